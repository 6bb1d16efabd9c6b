"""README's benchmark table, written from bench/results/*.json between two markers.

Each benchmark has a row builder that turns its JSON into rows: what was measured, Cairn's figure,
the reference measured in the same run, their ratio and the goal. A benchmark without a builder
gets one generic row per figure group that holds a `ratio`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- bench-table:start (python -m bench.run writes this table) -->"
END = "<!-- bench-table:end -->"

Row = tuple[str, str, str, str, str]  # what, Cairn, reference, ratio, goal
HEADER = "| benchmark | Cairn | reference (same run) | ratio | goal | measured |\n|---|---|---|---|---|---|\n"


def _met(ratio: float, goal: str) -> str:
    """`goal` ('<= 1.2', '>= 0.7') with whether `ratio` meets it."""
    op, _, bound = goal.partition(" ")
    met = ratio <= float(bound) if op == "<=" else ratio >= float(bound)
    return f"{goal} ({'met' if met else 'not met'})"


def _load_query(r: dict[str, Any]) -> list[Row]:
    load, query, rows = r["load"], r["query"], r["rows"]
    return [
        (f"load: `INSERT INTO t SELECT` of {rows / 1e6:g} M generated rows",
         f"{load['cairn_seconds']:.1f} s ({load['cairn_rows_per_second'] / 1e6:.2f} M rows/s)",
         f"pyarrow writing the same rows to Parquet: {load['pyarrow_seconds']:.1f} s",
         f"{load['ratio']:.2f}", _met(load["ratio"], load["goal"])),
        ("query: scan + filter + group-by over those rows", f"{query['cairn_seconds']:.3f} s",
         f"DuckDB on the same Parquet files: {query['duckdb_direct_seconds']:.3f} s",
         f"{query['ratio']:.2f}", _met(query["ratio"], query["goal"])),
    ]


def _load(r: dict[str, Any]) -> list[Row]:
    return [(f"Stream Load of TPC-H lineitem SF{r['scale_factor']} ({r['rows'] / 1e6:.1f} M rows, pipe-separated)",
             f"{r['cairn_seconds']:.1f} s ({r['cairn_rows_per_second'] / 1e6:.2f} M rows/s)",
             f"DuckDB loading the same file into a native table: {r['duckdb_seconds']:.1f} s "
             f"(CPU: Cairn's FE {r['cairn_cpu_seconds']:.1f} s, DuckDB {r['duckdb_cpu_seconds']:.1f} s, "
             f"ratio {r['cpu_ratio']:.2f})",
             f"{r['ratio']:.2f}", f"{_met(r['ratio'], r['goal'])}; load average {r['load_average_at_start']:.0f} "
             f"at the start, {r['load_average_at_end']:.0f} at the end")]


def _serving(r: dict[str, Any]) -> list[Row]:
    point, load = r["point_queries"], r["stream_load"]
    return [
        (f"point queries, {point['threads']} client threads, {point['rows'] / 1e6:g} M rows",
         f"{point['mysql_qps']:.0f} q/s over MySQL", f"{point['in_process_qps']:.0f} q/s in-process",
         f"{point['ratio']:.2f}", "—"),
        (f"Stream Load of a {load['csv_bytes'] / 1e9:.1f} GB CSV",
         f"{load['cairn_seconds']:.1f} s ({load['cairn_mb_per_second']:.1f} MB/s)",
         f"pyarrow CSV reader + Parquet writer: {load['pyarrow_seconds']:.1f} s", f"{load['ratio']:.2f}", "—"),
    ]


def _snapshot(r: dict[str, Any]) -> list[Row]:
    by_data, by_parts = r["by_data_size"], r["by_partitions"]["runs"]
    sizes = " / ".join(f"{run['data_bytes'] / 1e6:,.0f} MB" for run in by_data["runs"])
    times = " / ".join(f"{run['snapshot_seconds'] * 1e3:.1f} ms" for run in by_data["runs"])
    ratio = by_data["ratio_largest_to_smallest"]
    return [
        (f"cluster snapshot, same catalog holding {sizes}", times, "smallest data size",
         f"{ratio:.2f} (largest / smallest)", _met(ratio, by_data["goal"])),
        ("cluster snapshot, " + " / ".join(f"{run['partitions']:,}" for run in by_parts) + " partitions",
         " / ".join(f"{run['snapshot_seconds']:.3f} s" for run in by_parts), "—", "grows with the catalog", "—"),
    ]


def _restore(r: dict[str, Any]) -> list[Row]:
    parts, data, rpo = r["rto_by_partitions"], r["rto_by_data"], r["rpo"]
    rows: list[Row] = [
        ("RTO (FE start with `--cluster_snapshot` → first query), " + " / ".join(
            f"{run['partitions']:,}" for run in parts) + " partitions",
         " / ".join(f"{run['rto_seconds']:.2f} s" for run in parts), "—", "—",
         f"largest ≤ 30 s ({'met' if parts[-1]['rto_seconds'] <= 30 else 'not met'})"),
        ("RTO, same catalog holding " + " / ".join(f"{run['data_bytes'] / 1e6:,.0f} MB" for run in data),
         " / ".join(f"{run['rto_seconds']:.2f} s" for run in data), "smallest data size",
         f"{r['rto_data_ratio']:.2f} (largest / smallest)", _met(r["rto_data_ratio"], r["rto_goals"]["data_ratio"])),
        ("RPO: automated snapshots, PITR window on, FE disk lost",
         f"{rpo['lost_rows']} rows lost ({rpo['acknowledged_rows']:,} acknowledged, "
         f"{rpo['rows_after_restore']:,} restored)", "—", "—",
         f"none lost ({'met' if rpo['lost_rows'] == 0 else 'not met'})"),
    ]
    return rows


def _compute(r: dict[str, Any]) -> list[Row]:
    warm, nodes = r["warm_vs_cold"], r["one_vs_two_nodes"]
    return [
        (f"compute node cache on moto's S3, {warm['rows'] / 1e6:g} M rows, group-by",
         f"warm {warm['warm_seconds']:.3f} s (hit rate {warm['warm_hit_rate']:.2f})",
         f"cold: {warm['cold_seconds']:.3f} s", f"{warm['warm_over_cold']:.2f} (warm / cold)", "—"),
        (f"1 vs 2 compute nodes, same query, {nodes['rows'] / 1e6:g} M rows", f"2 nodes: {nodes['seconds_2_nodes']:.3f} s",
         f"1 node: {nodes['seconds_1_nodes']:.3f} s", f"{nodes['speedup']:.2f} speedup", "— (2 shared cores)"),
    ]


def _vacuum(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for run in r["runs"]:
        deleting, clean = run["deleting_run"], run["clean_run"]
        rows.append((f"vacuum on {run['backend']}: {run['objects']:,} objects, {run['dead']:,} dead",
                     f"{deleting['examined_per_second']:,} examined/s, {deleting['deleted_per_second']:,} deleted/s "
                     f"({deleting['seconds']:.2f} s)", f"clean pass: {clean['examined_per_second']:,} objects/s",
                     "—", "—"))
    return rows


def _journal(r: dict[str, Any]) -> list[Row]:
    return [(f"journal objects under {r['seconds']:g} s of single-row commits on {run['backend']}, cleanup on",
             f"{run['journal_objects_at_end']} at the end ({run['commits']} commits, peak {run['journal_objects_peak']})",
             f"at the first checkpoint: {run['journal_objects_at_first_checkpoint']}",
             f"{run['end_to_first_checkpoint_ratio']:.2f}", _met(run["end_to_first_checkpoint_ratio"], "<= 2"))
            for run in r["runs"]]


def _ha(r: dict[str, Any]) -> list[Row]:
    fail, lag, reads = r["failover"], r["replay_lag"], r["reads"]["runs"]
    timeout = fail["heartbeat_timeout_seconds"]
    cores = " / ".join(f"{sum(run['cores_busy']['fes'].values()):.2f}" for run in reads)
    return [
        (f"failover: `kill -9` of the leader of {r['fes']} FEs → first INSERT acknowledged by the new leader, "
         f"{len(fail['runs'])} runs",
         f"median {fail['median_seconds']:.1f} s, worst {fail['worst_seconds']:.1f} s",
         f"`bdbje_heartbeat_timeout_second`: {timeout:g} s",
         f"{fail['ratio']:.2f} (median / timeout), worst {fail['worst_ratio']:.2f}",
         f"worst {_met(fail['worst_ratio'], fail['goal'])}, i.e. ≤ {2 * timeout:g} s"),
        (f"follower replay lag, one client's single-row INSERTs on the leader at half the maximum rate "
         f"({lag['steady_commits_per_second']:g} of {lag['max_commits_per_second']:g} commits/s) for "
         f"{lag['steady_seconds']:g} s",
         f"median {lag['lag_ms_median']:.0f} ms, p99 {lag['lag_ms_p99']:.0f} ms "
         f"({lag['lag_entries_median']:g} / {lag['lag_entries_p99']:g} entries)",
         f"replay poll interval: {lag['replay_seconds'] * 1e3:.0f} ms", f"{lag['ratio']:.2f} (median / interval)",
         "—"),
        (f"point queries, {r['reads']['threads']} clients over 1 / 2 / 3 FEs",
         " / ".join(f"{run['queries_per_second']:.0f}" for run in reads) + f" q/s (FEs busy {cores} cores; "
         + " / ".join(f"{run['queries_per_fe_cpu_second']:.0f}" for run in reads) + " q per FE CPU-second)",
         f"1 FE: {reads[0]['queries_per_second']:.0f} q/s",
         " / ".join(f"{run['ratio']:.2f}" for run in reads),
         f"— (CPU-bound on 2 cores shared with other work: load average {r['load_average_at_start']:.0f} at the "
         f"start, {r['load_average_at_end']:.0f} at the end)"),
    ]


def _operator(r: dict[str, Any]) -> list[Row]:
    dr = r["disaster_recovery"]
    added = dr["added_seconds"]
    return [
        ("disaster recovery through the operator, 1 FE on moto's S3 in the Kubernetes simulation: status "
         "`todo` → `done` (fe-0 restored and ready)",
         f"{dr['dr_todo_to_done_seconds']:.1f} s (`todo` → `doing` {dr['dr_todo_to_doing_seconds']:.1f} s; "
         f"the restore's own {dr['restore_own_seconds'] or 0:.2f} s)",
         f"the restore alone, `cairn fe --cluster_snapshot` → first query: {dr['restore_alone_seconds']:.1f} s",
         f"{dr['ratio']:.2f} ({added:+.1f} s)",
         f"≤ 3 s added ({'met' if added <= 3 else 'not met'})"),
        ("operator decision per reconcile (no I/O), normal / DR todo / DR doing",
         f"{r['decision_ms_normal']:.2f} / {r['decision_ms_dr_todo']:.2f} / {r['decision_ms_dr_doing']:.2f} ms",
         "—", "—", "—"),
    ]


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _distributed(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    duck = r["duckdb_total_seconds"]
    labels = {"datafusion_one_process": "DataFusion, one process", "ray_1_worker": "Ray + DataFusion, 1 worker",
              "ray_2_workers": "Ray + DataFusion, 2 workers", "ray_4_workers": "Ray + DataFusion, 4 workers"}
    load = (f"; load average {r['load_average_at_start']:.0f} at the start, {r['load_average_at_end']:.0f} at the end"
            if "load_average_at_start" in r else "")
    for key, label in labels.items():
        s = r["summary"].get(key)
        if s is None:
            continue
        goal = "≤ 2× embedded (issue #14; not met yet)" if key == "ray_2_workers" else "—"
        traffic = ""
        if "exchanged_bytes" in s:
            balance = " / ".join(_megabytes(b) for b in s["output_bytes_per_node"].values())
            traffic = (f"; {s['stages']} stages, through the FE {_megabytes(s['gathered_bytes'])}, exchanged "
                       f"{_megabytes(s['exchanged_bytes'])}, produced per node {balance}")
        rows.append((f"TPC-H SF{r['sf']}, 22 queries: {label} ({s['same_as_duckdb']}/{s['of']} answers = DuckDB's"
                     f"{traffic})",
                     f"{s['seconds']:.1f} s", f"DuckDB, native tables: {duck:.1f} s{load if key == 'ray_2_workers' else ''}",
                     f"{s['ratio_to_duckdb']:.2f}" if s["ratio_to_duckdb"] is not None else "—", goal))
    return rows


BUILDERS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "load": _load, "load_query": _load_query, "serving": _serving, "snapshot": _snapshot, "restore": _restore,
    "compute": _compute, "vacuum": _vacuum, "journal": _journal, "ha": _ha, "operator": _operator,
    "distributed": _distributed,
}


def _generic(result: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for key, value in result.items():
        if isinstance(value, dict) and isinstance(value.get("ratio"), (int, float)):
            goal = value.get("goal")
            rows.append((f"{result['benchmark']}: {key}", "see JSON", "see JSON", f"{value['ratio']:.2f}",
                         _met(value["ratio"], goal) if isinstance(goal, str) else "—"))
    return rows


def table(results_dir: Path = RESULTS) -> str:
    """The markdown table of every benchmark's latest JSON, with the machine and date of each."""
    lines = [HEADER]
    machines = set()
    for path in sorted(results_dir.glob("*.json")):
        result = json.loads(path.read_text())
        name = result.get("benchmark", path.stem)
        try:
            rows = BUILDERS.get(name, _generic)(result)
        except (KeyError, TypeError, ValueError, IndexError):
            rows = _generic(result)
        machine = result.get("machine", {})
        machines.add(_machine_text(machine))
        when = str(result.get("measured_at", "?"))[:10]
        lines.extend(f"| {' | '.join(row)} | {when} |\n" for row in rows)
    return f"Machine: {'; '.join(sorted(machines))}.\n\n" + "".join(lines)


def _machine_text(machine: dict[str, Any]) -> str:
    parts = [machine.get("cpu_model") or "", f"{machine.get('cpus', '?')} cores"]
    if machine.get("memory_gib"):
        parts.append(f"{machine['memory_gib']} GiB")
    parts.append(f"Python {machine.get('python', '?')}")
    return ", ".join(p for p in parts if p)


def write_readme(readme: Path = README) -> None:
    """Replace the table between the markers in README (the markers are added, at the end of the
    Benchmarks section's text, if missing)."""
    write_block(START, END, table(), readme)


def write_block(start: str, end: str, content: str, readme: Path = README) -> None:
    """Replace what lies between the `start` and `end` markers in README with `content` (the markers are
    added at README's end if missing)."""
    text = readme.read_text()
    block = f"{start}\n{content}{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)
