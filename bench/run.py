"""Run Cairn's benchmarks: `python -m bench.run [--rows N]`. Results go to bench/results/*.json."""

from __future__ import annotations

import argparse
import json

from bench import bench_load_query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows for the load/query benchmark")
    args = parser.parse_args()
    print(json.dumps(bench_load_query.run(args.rows), indent=2))


if __name__ == "__main__":
    main()
