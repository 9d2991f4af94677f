"""The `city` profile as a benchmark: 10,000 cameras at 1 fps, real-time pace, recorded.

    python -m bench.city [--cameras 10000] [--seconds 60] [--partitions 4] [--record]

The run itself is `brightkitchen.city.run_city` (also `brightkitchen demo
--profile city`): the fleet is published on the wall clock into one embedded
pipeline, the lag is sampled every 5 s, and the report says whether this
machine keeps up. ``--record`` appends the report to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.stream_stage import command_line, record
from brightkitchen.city import run_city
from brightkitchen.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="event (= wall) time published")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bk-city-"))
    settings = Settings(store_path=workdir / "store", partitions=args.partitions)
    report = run_city(
        settings,
        args.cameras,
        args.seconds,
        drain_timeout_s=args.drain_timeout,
        log=lambda s: print(s, flush=True),
        log_dir=workdir,
    )
    text = report.markdown()
    print(text)
    if args.record:
        record("City profile: 10k cameras at 1 fps, real-time pace", command_line(), text)


if __name__ == "__main__":
    main()
