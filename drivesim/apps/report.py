"""Evaluation reports: metrics.json, report.md, report.html (self-contained in its folder: tables,
plots, inline videos by relative links) and the plots; `compare` for side-by-side runs."""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.metrics import INFRACTIONS

TABLE_COLUMNS = (("driving_score", "DS", "{:.3f}"), ("route_completion", "RC", "{:.3f}"),
                 ("infraction_penalty", "IP", "{:.3f}"), ("success_rate", "success", "{:.0%}"),
                 ("collision_pedestrian_per_km", "ped coll/km", "{:.2f}"),
                 ("collision_vehicle_per_km", "veh coll/km", "{:.2f}"), ("collision_static_per_km", "static/km", "{:.2f}"),
                 ("red_light_per_km", "red/km", "{:.2f}"), ("timeout_count", "timeouts", "{:d}"),
                 ("mean_speed", "speed m/s", "{:.1f}"), ("mean_abs_jerk", "jerk m/s³", "{:.2f}"),
                 ("hesitation_time", "waits s", "{:.1f}"))
PLOTS = ("driving_score.png", "infractions.png")
LEGEND = ("DS = driving score (route completion x infraction penalty, CARLA Leaderboard), RC = route completion, "
          "IP = infraction penalty, waits = seconds per episode standing where the autopilot would drive off; "
          "see docs/metrics.md.")


def write_report(metrics: dict[str, Any], out: Path, plots: bool = True, videos: dict[str, Path] | None = None,
                 title: str | None = None) -> list[Path]:
    """DIR/metrics.json, DIR/report.md, DIR/report.html and (with `plots`) DIR/*.png; `videos`
    {scenario: path inside DIR} are shown inline in the HTML. Returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [_write(out / "metrics.json", json.dumps(metrics, indent=2, allow_nan=True)),
               _write(out / "report.md", markdown_report(metrics))]
    images = write_plots(metrics, out) if plots else []
    written += images
    written.append(_write(out / "report.html", html_report(metrics, out, images, videos or {}, title)))
    return written


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader never sees half a report
    return path


def _cell(m: dict[str, Any], key: str, fmt: str) -> str:
    value = m.get(key, math.nan)  # reports of older runs lack the newer figures
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return fmt.format(int(value) if fmt == "{:d}" else value)


def markdown_report(metrics: dict[str, Any]) -> str:
    head = "| scenario | episodes | " + " | ".join(c[1] for c in TABLE_COLUMNS) + " |"
    lines = [f"# Evaluation of `{metrics['agent']}`", "",
             f"{metrics['episodes_per_scenario']} episodes per scenario, seed offset {metrics['seed_offset']}. "
             + LEGEND, "", head, "|" + "---|" * (len(TABLE_COLUMNS) + 2)]
    rows = list(metrics["per_scenario"].items()) + [("**all**", metrics["overall"])]
    for name, m in rows:
        cells = [_cell(m, key, fmt) for key, _, fmt in TABLE_COLUMNS]
        lines.append(f"| {name} | {m['episodes']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_plots(metrics: dict[str, Any], out: Path) -> list[Path]:
    """driving_score.png (per scenario) and infractions.png (stacked counts per scenario)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics["per_scenario"])
    ds = [metrics["per_scenario"][n]["driving_score"] for n in names]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(names, ds, color="#4a7bd0")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("driving score")
    ax.set_title(f"{metrics['agent']}: driving score per scenario (mean {metrics['driving_score']:.3f})")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / PLOTS[0], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    bottom = np.zeros(len(names))
    for name in INFRACTIONS:
        counts = np.array([metrics["per_scenario"][n][f"{name}_count"] for n in names], dtype=float)
        if counts.any():
            ax.bar(names, counts, bottom=bottom, label=name)
            bottom += counts
    if not bottom.any():
        ax.bar(names, bottom)  # no infractions: zero bars keep the scenario axis
        ax.set_ylim(0, 1)
    ax.set_ylabel("infractions (count)")
    ax.set_title(f"{metrics['agent']}: infractions per scenario" + ("" if bottom.any() else " (none)"))
    ax.tick_params(axis="x", rotation=30)
    if bottom.any():
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / PLOTS[1], dpi=100)
    plt.close(fig)
    return [out / name for name in PLOTS]


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}tr.all td{font-weight:bold}
td.bad{color:#b00020}img{max-width:100%}.videos{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0}figcaption{font-size:13px;color:#555}video{width:320px;height:320px;background:#000}
p.note{color:#555;font-size:13px}"""


def html_report(metrics: dict[str, Any], out: Path, images: list[Path], videos: dict[str, Path],
                title: str | None = None) -> str:
    """One HTML page: summary table, plots, videos (relative links into `out`) and the per-episode
    table with infractions. Self-contained in its folder: no network, no scripts."""
    esc = html.escape
    title = title or f"Evaluation of {metrics['agent']}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>",
             f"<p>{metrics['episodes_per_scenario']} episodes per scenario, seed offset {metrics['seed_offset']}, "
             f"{metrics.get('wall_time_s', 0):.0f} s. {esc(LEGEND)}</p>",
             "<h2>Summary</h2>", _summary_table(metrics)]
    if images:
        parts.append("<h2>Per scenario</h2>")
        parts += [f"<img src='{esc(_rel(p, out))}' alt='{esc(p.stem)}'>" for p in images]
    if videos:
        parts.append("<h2>Videos</h2><p class='note'>The first episode of each scenario.</p><div class='videos'>")
        for name, path in videos.items():
            parts.append(f"<figure><video controls muted playsinline preload='metadata' "
                         f"src='{esc(_rel(path, out))}'></video><figcaption>{esc(name)}</figcaption></figure>")
        parts.append("</div>")
    parts += ["<h2>Episodes</h2>", _episode_table(metrics), "</body></html>"]
    return "\n".join(parts) + "\n"


def _rel(path: Path, out: Path) -> str:
    path = Path(path)
    try:
        return path.resolve().relative_to(Path(out).resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path}: report files must lie inside the report folder {out}") from None


def _summary_table(metrics: dict[str, Any]) -> str:
    esc = html.escape
    rows = ["<table id='summary'><tr><th>scenario</th><th>episodes</th>"
            + "".join(f"<th>{esc(c[1])}</th>" for c in TABLE_COLUMNS) + "</tr>"]
    for name, m in [*metrics["per_scenario"].items(), ("all", metrics["overall"])]:
        cls = " class='all'" if name == "all" else ""
        rows.append(f"<tr{cls}><td>{esc(name)}</td><td>{m['episodes']}</td>"
                    + "".join(f"<td>{esc(_cell(m, k, f))}</td>" for k, _, f in TABLE_COLUMNS) + "</tr>")
    return "\n".join(rows) + "</table>"


def _episode_table(metrics: dict[str, Any]) -> str:
    esc = html.escape
    head = ("<table id='episodes'><tr><th>scenario</th><th>seed</th><th>DS</th><th>RC</th><th>goal</th>"
            "<th>duration s</th><th>speed m/s</th><th>waits s</th><th>infractions</th></tr>")
    rows = [head]
    for e in metrics["episodes"]:
        bad = {k: v for k, v in e["infractions"].items() if v}
        text = ", ".join(f"{k} {v}" for k, v in bad.items()) or "none"
        rows.append(f"<tr><td>{esc(e['scenario'])}</td><td>{e['seed']}</td><td>{e['driving_score']:.3f}</td>"
                    f"<td>{e['route_completion']:.3f}</td><td>{'yes' if e['goal'] else 'no'}</td>"
                    f"<td>{e['duration']:.1f}</td><td>{e['mean_speed']:.1f}</td>"
                    f"<td>{_cell(e, 'hesitation_time', '{:.1f}')}</td>"
                    f"<td{' class=bad' if bad else ''}>{esc(text)}</td></tr>")
    return "\n".join(rows) + "</table>"


def compare(dirs: list[str]) -> str:
    """Side-by-side Markdown table of driving score / route completion / success per scenario."""
    runs = []
    for d in dirs:
        path = Path(d) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no metrics.json (run `drivesim evaluate --out {d}` first)")
        try:
            runs.append(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    names = list(dict.fromkeys(n for r in runs for n in r["per_scenario"]))
    head = "| scenario | " + " | ".join(f"{r['agent']} DS / RC / success" for r in runs) + " |"
    lines = [head, "|---|" + "---|" * len(runs)]
    for name in [*names, "all"]:
        cells = []
        for r in runs:
            m = r["overall"] if name == "all" else r["per_scenario"].get(name)
            cells.append("-" if m is None else f"{m['driving_score']:.3f} / {m['route_completion']:.3f} / "
                                               f"{m['success_rate']:.0%}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
