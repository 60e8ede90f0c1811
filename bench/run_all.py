"""Run every benchmark in bench/ in turn (`make bench`); each prints its own table.

Each benchmark measures its bare-stack baseline in the same run and reports a ratio.
Pass names to run only some: `python bench/run_all.py inbound_mapping http_ingest`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ORDER = [
    "inbound_mapping",
    "records_upsert",
    "job_log_growth",
    "http_ingest",
    "smtp_ingest",
    "outbound",
    "tui_startup",
    "tui_live",
]


def main(argv: list[str]) -> int:
    names = argv or [n for n in ORDER if (HERE / f"{n}.py").exists()]
    failed = []
    for name in names:
        script = HERE / f"{name}.py"
        print(f"\n## {name}\n", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)])
        print(f"\n({name}: {time.monotonic() - started:.0f} s, exit {code})", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
