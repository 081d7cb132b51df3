"""``python -m console.samplegen``: write a sample (story) or benchmark (bench) workspace."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from console.errors import ConsoleError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m console.samplegen", description=__doc__)
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the workspace")
    p.add_argument("--profile", choices=("story", "bench"), default="story")
    p.add_argument("--rows", type=int, default=None,
                   help="predictions to write (story default ~100000, bench default 1000000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same bytes)")
    p.add_argument("--format", dest="fmt", choices=("jsonl", "parquet", "both"), default=None,
                   help="bench: log format (both = two sibling workspaces, jsonl/ and parquet/)")
    p.add_argument("--reference-rows", type=int, default=None, metavar="N",
                   help="bench: rows in each model's reference file (default 100000)")
    args = p.parse_args(argv)
    options = {}
    if args.fmt is not None:
        options["fmt"] = args.fmt
    if args.reference_rows is not None:
        options["reference_rows"] = args.reference_rows
    from console.samplegen import generate

    started = time.perf_counter()
    try:
        summary = generate(Path(args.out), rows=args.rows, profile=args.profile, seed=args.seed, **options)
    except ConsoleError as exc:
        print(f"samplegen: {exc}", file=sys.stderr)
        return exc.exit_code
    summary = {**summary, "seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
