"""Reproduces the figures of "Distributed execution: choice of engine" in docs/architecture.md.

The candidates live in their own virtualenv, never in Cairn's requirements.lock:

    python3 -m venv .venv-spike
    .venv-spike/bin/pip install datafusion==55.0.0 ray==2.59.0 'daft[ray]==0.7.26' \
        tpchgen-cli==4.0.0 duckdb==2.0.1 pyarrow
    .venv-spike/bin/python bench/engine_spike/run.py --data /tmp/tpch --sf 1

It generates TPC-H Parquet with tpchgen-cli under --data (outside the repository) if missing,
then measures, writing bench/engine_spike/results/spike_sf<SF>.json:
  * single-process DataFusion against DuckDB (native tables) on the 22 queries;
  * Ray + DataFusion fragments (ray_datafusion.py) on 1 and on 2 worker nodes;
  * Daft on Ray on 2 worker nodes;
  * which sockets the Ray cluster listens on, whether a client without the token is refused,
    and whether a query survives the loss of a worker node.
Sized for 2 cores and 24 GiB: every worker node has one CPU and a 1 GiB object store.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
import ray_datafusion as rd  # noqa: E402  (sets Ray's environment before Ray is imported)
import ray  # noqa: E402
from datafusion import SessionContext  # noqa: E402


def ensure_data(root: Path, sf: str) -> None:
    directory = common.data_dir(root, sf)
    if not (directory / "lineitem.parquet").exists():
        cli = Path(sys.executable).with_name("tpchgen-cli")
        subprocess.run([str(cli), "parquet", "-s", sf, f"--output-dir={directory}"], check=True)
    import to_utf8

    to_utf8.convert(directory, Path(str(directory) + "-utf8"))


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = {pid}, [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def listening_sockets() -> dict[str, Any]:
    """Every TCP socket that this process or its descendants (the Ray cluster) listen on."""
    ours = _descendants(os.getpid())
    rows = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    mine = []
    for row in rows:
        pids = {int(p) for p in re.findall(r"pid=(\d+)", row)}
        if pids & ours:
            mine.append(row.split()[3])
    return {"listening": len(mine), "not_loopback": [a for a in mine if not a.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:"))]}


def auth_probe(address: str) -> dict[str, str]:
    """Try to join the cluster as a client with a wrong token, and with none."""
    code = "import ray; ray.init(address=%r, _node_ip_address='127.0.0.1'); print('CONNECTED')" % address
    out = {}
    for label, env in {
        "wrong_token": {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64},
        "no_token": {"RAY_AUTH_MODE": "disabled"},
    }.items():
        full = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"} | env
        try:
            p = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=90)
            text = p.stdout + p.stderr
            out[label] = "connected" if "CONNECTED" in p.stdout else (
                "refused: " + (re.findall(r"(\w*AuthenticationError[^\n]{0,120}|InvalidAuthToken[^\n]{0,80})", text) or ["exit %d" % p.returncode])[0]
            )
        except subprocess.TimeoutExpired:
            out[label] = "no connection within 90 s (refused at every retry)"
    return out


def planning_context(directory: Path, partitions: int) -> SessionContext:
    ctx = SessionContext(rd.session_config(partitions))
    for t in common.TABLES:
        ctx.register_parquet(t, str(directory / f"{t}.parquet"))
    view, _ = common.queries()
    ctx.sql(view)
    return ctx


def run_distributed(ctx: SessionContext, workers: list[str], sql: str) -> tuple[Any, rd.DistributedRunner]:
    plan = ctx.sql(sql).execution_plan()
    runner = rd.DistributedRunner(workers, rd.plan_schemas(ctx, sql, plan))
    return runner.run(plan), runner


def bench_ray_datafusion(directory: Path, ids: list[str], duck: Any, wants: dict[int, Any], repeat: int, partitions: int) -> dict[str, Any]:
    _, qs = common.queries()
    ctx = planning_context(directory, partitions)
    out: dict[str, Any] = {}
    for label, workers in (("1_worker", ids[:1]), ("2_workers", ids)):
        rows = []
        for n, sql in qs.items():
            try:
                run_distributed(ctx, workers, sql)  # warm-up: worker processes, page cache
                best, got, runner = float("inf"), None, None
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    got, runner = run_distributed(ctx, workers, sql)
                    best = min(best, time.perf_counter() - t0)
                ok, why = common.compare(got, wants[n], sql)
                rows.append({"q": n, "s": round(best, 4), "same": ok, "note": why, "tasks": runner.stats.tasks if runner else 0,
                             "tasks_per_worker": runner.stats.tasks_per_worker if runner else {},
                             "result_bytes": got.nbytes if got is not None else 0})
            except Exception as e:  # noqa: BLE001 - an engine error is a result to record
                rows.append({"q": n, "s": float("nan"), "same": False, "note": f"error: {type(e).__name__}: {str(e)[-300:]}"})
            print(label, rows[-1], flush=True)
        out[label] = rows
    return out


def bench_daft(directory: Path, address: str, wants: dict[int, Any], repeat: int) -> dict[str, Any]:
    import daft

    daft.set_runner_ray(address=address, noop_if_initialized=True)
    utf8 = Path(str(directory) + "-utf8")
    sess = daft.Session()
    for t in common.TABLES:
        sess.create_temp_table(t, daft.read_parquet(str(utf8 / f"{t}.parquet")))
    view, qs = common.queries()
    # Daft has no CREATE VIEW: revenue0 becomes a named DataFrame of its SELECT, columns renamed.
    select = view.split(" as\n", 1)[1].replace("l_suppkey,", "l_suppkey as supplier_no,", 1)
    select = select.replace("sum(l_extendedprice * (1 - l_discount))", "sum(l_extendedprice * (1 - l_discount)) as total_revenue", 1)
    sess.create_temp_table("revenue0", sess.sql(select))
    rows = []
    for n, sql in qs.items():
        try:
            sess.sql(sql).to_arrow()
            best, got = float("inf"), None
            for _ in range(repeat):
                t0 = time.perf_counter()
                got = sess.sql(sql).to_arrow()
                best = min(best, time.perf_counter() - t0)
            ok, why = common.compare(got, wants[n], sql)
            rows.append({"q": n, "s": round(best, 4), "same": ok, "note": why})
        except Exception as e:  # noqa: BLE001
            last = [ln for ln in str(e).splitlines() if ln.strip()][-1:] or [""]
            rows.append({"q": n, "s": float("nan"), "same": False, "note": f"error: {type(e).__name__}: {last[0][:300]}"})
        print("daft", rows[-1], flush=True)
    return {"2_workers": rows}


def kill_worker_mid_query(cluster: Any, ids: list[str], directory: Path, duck: Any, partitions: int) -> dict[str, Any]:
    """Run Q18 on 2 workers and remove worker node 1 (its raylet, workers and object store are
    killed) while the query runs: does Ray retry the lost tasks and rebuild the lost objects?"""
    _, qs = common.queries()
    ctx = planning_context(directory, partitions)
    result: dict[str, Any] = {}

    def query() -> None:
        t0 = time.perf_counter()
        try:
            got, _ = run_distributed(ctx, ids, qs[18])
            result["same"], result["note"] = common.compare(got, common.duckdb_run(duck, qs[18]), qs[18])
        except Exception as e:  # noqa: BLE001
            result["same"], result["note"] = False, f"error: {type(e).__name__}: {str(e)[-300:]}"
        result["s"] = round(time.perf_counter() - t0, 3)

    victim = next(n for n in cluster.worker_nodes if n.node_id == ids[1])
    thread = threading.Thread(target=query)
    thread.start()
    time.sleep(1.0)  # let the first stage start on both workers
    cluster.remove_node(victim, allow_graceful=False)
    thread.join(timeout=600)
    result["finished"] = not thread.is_alive()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/tmp/tpch"))
    ap.add_argument("--sf", default="1")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--tag", default="", help="suffix of the result file, to keep an earlier run")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: single,ray,daft,kill")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    ensure_data(args.data, args.sf)
    directory = common.data_dir(args.data, args.sf)
    out: dict[str, Any] = {"sf": args.sf, "versions": {}}
    import daft
    import datafusion
    import duckdb

    out["versions"] = {"datafusion": datafusion.__version__, "ray": ray.__version__, "daft": daft.__version__, "duckdb": duckdb.__version__}
    _, qs = common.queries()
    duck = common.duckdb_connection(directory)
    wants, duck_s = {}, {}
    for n, sql in qs.items():
        common.duckdb_run(duck, sql)
        wants[n], duck_s[n] = common.timed(lambda: common.duckdb_run(duck, sql), max(args.repeat, 1))
    out["duckdb_s"] = {n: round(s, 4) for n, s in duck_s.items()}
    if "single" not in skip:
        import bench_single

        out["single_process"] = bench_single.main(args.data, args.sf, max(args.repeat, 1))
    cluster, ids, info = rd.start_cluster(2)
    try:
        out["sockets"] = listening_sockets()
        out["auth"] = auth_probe(info["address"])
        print("sockets", out["sockets"], "auth", out["auth"], flush=True)
        if "ray" not in skip:
            out["ray_datafusion"] = bench_ray_datafusion(directory, ids, duck, wants, args.repeat, args.partitions)
        if "daft" not in skip:
            out["daft_ray"] = bench_daft(directory, info["address"], wants, args.repeat)
        out["sockets_after"] = listening_sockets()
        if "kill" not in skip:
            out["kill_worker"] = kill_worker_mid_query(cluster, ids, directory, duck, args.partitions)
            print("kill", out["kill_worker"], flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    summary = {}
    total_duck = sum(duck_s.values())
    for name, section in (("ray_datafusion", out.get("ray_datafusion", {})), ("daft_ray", out.get("daft_ray", {}))):
        for label, rows in section.items():
            passed = [r for r in rows if r["same"]]
            t = sum(r["s"] for r in passed)
            d = sum(duck_s[r["q"]] for r in passed)
            summary[f"{name}/{label}"] = {"passed": len(passed), "of": len(rows), "s": round(t, 3),
                                          "ratio_vs_duckdb_on_passed": round(t / d, 2) if d else None}
    out["summary"] = summary
    out["duckdb_total_s"] = round(total_duck, 3)
    path = HERE / "results" / f"spike_sf{args.sf}{args.tag}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
