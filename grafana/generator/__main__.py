"""`python -m grafana.generator [--check] [--city NAME]`: regenerate the Grafana files."""

from __future__ import annotations

import argparse
import sys

from grafana.generator import DEFAULT_CITY, drift, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.generator", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    parser.add_argument("--city", default=DEFAULT_CITY, help="city shown on the boards")
    parser.add_argument(
        "--snapshot-base",
        default="",
        help="a deployment's BK_SNAPSHOT_PUBLIC_URL: evidence links open s3://bucket/key "
        "under it (default: none, links are the stored URIs; `brightkitchen grafana push` "
        "fills it from the setting)",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = drift(city=args.city)
        for rel in stale:
            print(f"grafana/{rel} differs from what grafana/generator generates", file=sys.stderr)
        return 1 if stale else 0
    for rel in write(city=args.city, snapshot_base=args.snapshot_base):
        print(f"wrote grafana/{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
