"""The apps, the top layer: the `drivesim` CLI, the demo, `drivesim play`, the benchmark, evaluation
reports (Markdown, HTML, plots) and the video writer. Nothing below imports from here."""
