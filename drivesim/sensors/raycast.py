from drivesim.sensors.lidar import beam_directions, merge_hits, ray_box_distances  # noqa: F401  (temporary shim)
