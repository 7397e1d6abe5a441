"""Seconds to export one dashboard figure as PNG and SVG (kaleido drawing in Debian's chromium):
a browser started per file against the dashboard's one browser per server process, the same
figure (R@2kt against alpha, seven languages and the macro, the shipped study's me5-small), in
one run.

    python -m benchmarks.figure_export [--repeats 5] [--write]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

from benchmarks.report import machine_line, publish
from xqg_core.explore.charts import line_figure
from xqg_core.explore.study_report import CHROMIUM
from xqg_core.explore.tables import alpha_curve
from xqg_core.paths import ARTIFACTS_DIR
from xqg_core.study.artifacts import load_artifacts


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    import kaleido

    os.environ.setdefault("BROWSER_PATH", CHROMIUM)
    arts = load_artifacts(ARTIFACTS_DIR)
    curve = alpha_curve(arts.results(), "xquad-xr", arts.encoders[0], arts.n_max, "R@2kt")
    fig = line_figure(curve, "alpha", "value", "R@2kt vs alpha", color="lang").update_layout(template="plotly_white")
    rows = []
    for fmt in ("svg", "png"):
        per_file = [seconds(lambda: fig.to_image(format=fmt)) for _ in range(args.repeats)]
        rows.append((f"{fmt}, a browser started per file", per_file[0], statistics.median(per_file)))
    kaleido.start_sync_server(silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for fmt in ("svg", "png"):
            shared = [seconds(lambda: fig.to_image(format=fmt)) for _ in range(args.repeats)]
            rows.append((f"{fmt}, one browser per process (the dashboard)", shared[0], statistics.median(shared)))
    kaleido.stop_sync_server(silence_warnings=True)
    lines = ["## Figure export (`python -m benchmarks.figure_export --write`)", "",
             f"One figure (R@2kt against alpha, {curve.lang.nunique()} lines x {curve.alpha.nunique()} alphas) drawn by "
             f"kaleido in Debian's chromium, {args.repeats} times each way, on {machine_line()}; the first export of a "
             "process includes starting the browser.", "",
             "| export | first (s) | median (s) |", "|---|---|---|"]
    lines += [f"| {name} | {first:.2f} | {median:.2f} |" for name, first, median in rows]
    publish("figure-export", lines, args.write)


if __name__ == "__main__":
    main()
