"""Run Cairn's benchmarks: `python -m bench.run [--rows N] [--only NAME]`.

Each benchmark writes bench/results/<name>.json (its figures, the references measured in the same
run, the machine and the date); then README's benchmark table is written again from every JSON
there (`--table-only` does just that).
"""

from __future__ import annotations

import argparse
import json

from bench import (
    bench_compute,
    bench_distributed,
    bench_ha,
    bench_journal,
    bench_load,
    bench_load_query,
    bench_operator,
    bench_restore,
    bench_serving,
    bench_snapshot,
    bench_vacuum,
    readme_table,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows for the load/query benchmark")
    parser.add_argument("--scale", default="1", help="TPC-H scale factor of the Stream Load benchmark's lineitem")
    parser.add_argument("--csv-mb", type=int, default=1000, help="size of the Stream Load CSV, in MB")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each point-query run")
    parser.add_argument("--snapshot-mb", type=int, nargs="+", default=[10, 1000, 5000],
                        help="data sizes for the snapshot benchmark, in MB")
    parser.add_argument("--partitions", type=int, nargs="+", default=[10, 1000, 10000],
                        help="partition counts for the snapshot benchmark")
    parser.add_argument("--rto-mb", type=int, nargs="+", default=[10, 5000],
                        help="data sizes for the recovery-time benchmark, in MB")
    parser.add_argument("--compute-rows", type=int, default=4_000_000, help="rows for the compute-node benchmark")
    parser.add_argument("--failover-runs", type=int, default=10, help="leader kills for the failover benchmark")
    parser.add_argument("--commit-seconds", type=float, default=10.0,
                        help="HA: seconds of back-to-back commits that measure the maximum commit rate")
    parser.add_argument("--lag-seconds", type=float, default=30.0,
                        help="HA: seconds of commits at half that rate while the follower's lag is sampled")
    parser.add_argument("--tpch-sf", default="1", help="TPC-H scale factor of the distributed-execution benchmark")
    parser.add_argument("--tpch-repeat", type=int, default=2,
                        help="distributed: measured runs per query after a warm-up (the best is kept)")
    parser.add_argument("--table-only", action="store_true",
                        help="run nothing; write README's table from bench/results/*.json")
    parser.add_argument("--only", choices=["load", "load_query", "serving", "snapshot", "restore", "compute", "vacuum", "journal", "ha",
                                            "operator", "distributed"],
                        help="run one benchmark")
    args = parser.parse_args()
    if args.table_only:
        readme_table.write_readme()
        return
    results = {}
    if args.only in (None, "load"):
        results["load"] = bench_load.run(args.scale)
    if args.only in (None, "load_query"):
        results["load_query"] = bench_load_query.run(args.rows)
    if args.only in (None, "serving"):
        results["serving"] = bench_serving.run(args.seconds, args.csv_mb)
    if args.only in (None, "snapshot"):
        results["snapshot"] = bench_snapshot.run(args.snapshot_mb, args.partitions)
    if args.only in (None, "restore"):
        results["restore"] = bench_restore.run(args.partitions, args.rto_mb)
    if args.only in (None, "compute"):
        results["compute"] = bench_compute.run(args.compute_rows)
    if args.only in (None, "vacuum"):
        results["vacuum"] = bench_vacuum.run()
    if args.only in (None, "journal"):
        results["journal"] = bench_journal.run()
    if args.only in (None, "ha"):
        results["ha"] = bench_ha.run(args.failover_runs, args.commit_seconds, args.lag_seconds, args.seconds)
    if args.only in (None, "operator"):
        results["operator"] = bench_operator.run()
    if args.only in (None, "distributed"):
        results["distributed"] = bench_distributed.run(args.tpch_sf, args.tpch_repeat)
    print(json.dumps(results, indent=2))
    readme_table.write_readme()


if __name__ == "__main__":
    main()
