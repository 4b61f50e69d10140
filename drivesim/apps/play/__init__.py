"""`drivesim play`: drive one world in a pygame window, or headless for videos and tests.

In parts: `session` (the state machine: episodes, scenario switching, autopilot, recording; no
pygame), `scenarios` (the keyed catalog, discovered on demand), `keys` (the key map), `hud` (the
window image) and `window` (the loop and `run_play`, the command). Importing this package imports
none of them, so the session stays usable without pygame."""
