"""Learned perception: a multi-task CNN that detects cars, pedestrians and traffic lights (with
their state and velocity) in the camera frame and its history frame (docs/perception.md).
`inputs`, `dataset`, `decode` and `features` need numpy and numba only; the rest needs torch."""
