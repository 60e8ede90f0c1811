"""Benchmark: process start to the first painted integration screen, with 1,000 and 1,000,000 jobs stored.

Each measurement is a fresh process (headless `run_test`, 120×40) that imports the
console, opens the data directory, starts the app on the home screen, opens the
Stripe integration and waits until it is painted (its tables laid out and focused);
the figure is wall time from just before the process was spawned. The bare baseline,
in the same run: a process that starts a Textual app with one 6-column DataTable of
200 rows and waits for its first paint. Reported: medians of `--rounds` runs,
alternating sizes; the ratio big/small (target ≤ 1.5) and the RSS of the 1M process
(target < 300 MB); also the time until the Jobs tab shows its window of 200 rows.

    .venv/bin/python bench/tui_startup.py [--small 1000] [--big 1000000] [--rounds 3]

The jobs are written with the job log's bulk prefill (as `job_log_growth.py` does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

# Peak RSS of this process: VmHWM (ru_maxrss would carry the forking parent's peak across exec).
PEAK_RSS = r"""
def peak_rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
"""

CHILD = PEAK_RSS + r"""
import asyncio, json, os, sys, time
T0 = float(os.environ["BENCH_T0"])
from pathlib import Path
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import load_settings
from payloads_tui.tui.app import make_app
from payloads_tui.tui.screens.integration import IntegrationScreen

async def main():
    settings = load_settings(home=Path(sys.argv[1]), environ={}, config_file=Path(sys.argv[1]) / "none.toml")
    workspace = Workspace(settings, read_only=True)
    app = make_app(workspace)
    figures = {}
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_integration("stripe")
        while not (isinstance(app.screen, IntegrationScreen) and app.focused is not None
                   and app.focused.id == "inbound-table"):
            await pilot.pause(0.005)
        await pilot.pause()
        figures["painted"] = time.time() - T0
        started = time.perf_counter()
        await pilot.press("2")
        table = app.screen.query_one("#inbound-jobs")
        while table.row_count < 200:
            await pilot.pause(0.005)
        await pilot.pause()
        figures["jobs_tab"] = time.perf_counter() - started
        figures["rss_mb"] = peak_rss_mb()
    workspace.close()
    print(json.dumps(figures))

asyncio.run(main())
"""

BARE = PEAK_RSS + r"""
import asyncio, json, os, time
T0 = float(os.environ["BENCH_T0"])
from textual.app import App
from textual.widgets import DataTable

class Bare(App):
    def compose(self):
        yield DataTable()
    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns(*"abcdef")
        for i in range(200):
            table.add_row(*(f"cell {i}.{c}" for c in range(6)))
        table.focus()

async def main():
    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        painted = time.time() - T0
    print(json.dumps({"painted": painted, "rss_mb": peak_rss_mb()}))

asyncio.run(main())
"""


def prefill(home: Path, count: int) -> float:
    """A demo data directory holding `count` jobs (10% outbound, 3 integrations)."""
    from job_log_growth import prefill_jobs

    from payloads_tui.service.workspace import Workspace
    from payloads_tui.settings import load_settings
    from payloads_tui.store.jobs import JobLog

    started = time.perf_counter()
    with Workspace(load_settings(home=home, environ={}, config_file=home / "none.toml")) as ws:
        ws.seed_demo()
    log = JobLog(home, durable=False)
    jobs = prefill_jobs(count, time.time() - count * 0.01)
    if count > 10_000:
        log._bulk_seal(jobs)
    else:
        for job in jobs:
            log.save_soon(job)
    log.close()
    os.sync()
    return time.perf_counter() - started


def run_child(code: str, *args: str) -> dict[str, float]:
    env = dict(os.environ, BENCH_T0=repr(time.time()))
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tui-startup-") as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        print(f"prefill: {args.small:,} jobs in {prefill(small, args.small):.1f} s; "
              f"{args.big:,} jobs in {prefill(big, args.big):.1f} s", flush=True)
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "small": [], "big": []}
        for _ in range(args.rounds):
            runs["bare"].append(run_child(BARE))
            runs["small"].append(run_child(CHILD, str(small)))
            runs["big"].append(run_child(CHILD, str(big)))

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    print(f"\n| what (median of {args.rounds}) | to first paint | Jobs tab: 200 rows | RSS |")
    print("|---|---|---|---|")
    print(f"| bare Textual app, DataTable of 200 rows | {median('bare', 'painted'):.2f} s | — | "
          f"{median('bare', 'rss_mb'):.0f} MB |")
    for name, count in (("small", args.small), ("big", args.big)):
        print(f"| console, {count:,} jobs stored | {median(name, 'painted'):.2f} s | "
              f"{median(name, 'jobs_tab') * 1000:.0f} ms | {median(name, 'rss_mb'):.0f} MB |")
    ratio = median("big", "painted") / median("small", "painted")
    print(f"\nbig / small: {ratio:.2f}× (target ≤ 1.5×); console / bare: "
          f"{median('small', 'painted') / median('bare', 'painted'):.2f}×; "
          f"RSS with {args.big:,} jobs: {median('big', 'rss_mb'):.0f} MB (target < 300 MB)")
    ok = ratio <= 1.5 and median("big", "rss_mb") < 300
    print("PASS" if ok else "FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
