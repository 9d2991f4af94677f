"""`python -m inference_workers.simulator`: write a simulated fleet as a replay file."""

from __future__ import annotations

import json

from inference_workers.simulator.config import PROFILES, FleetConfig
from inference_workers.simulator.feed import write_replay


def main(argv: list[str] | None = None) -> int:
    """python -m inference_workers.simulator OUT.jsonl [TRUTH.json] [--cameras N] ..."""
    import argparse

    ap = argparse.ArgumentParser(description="Write a simulated fleet as a replay file.")
    ap.add_argument("output")
    ap.add_argument("truth", nargs="?")
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default")
    args = ap.parse_args(argv)
    cfg = FleetConfig.for_profile(
        args.profile, cameras=args.cameras, duration_s=args.hours * 3600, seed=args.seed
    )
    stats = write_replay(cfg, args.output, args.truth)
    print(json.dumps(stats, ensure_ascii=False))
    return 0
