"""`cairn restore`: the restore the FE does at start-up, from the command line, phase by phase."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cairn.api import load_config
from cairn.errors import CairnError
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import PHASES, restore
from cairn.restore.snapshot_yaml import ClusterSnapshotYaml, RestoreTarget, SnapshotSection, read_snapshot_yaml

console = Console(stderr=True)


def restore_command(
    conf: Annotated[Path, typer.Option("--conf", help="fe.conf of the FE to restore")],
    snapshot: Annotated[Optional[str], typer.Option(
        help="snapshot path (…/<cluster>/meta for the newest complete one); default: cluster_snapshot.yaml's")] = None,
    to: Annotated[Optional[str], typer.Option(
        "--to", help="point in time: a journal id or 'YYYY-MM-DD HH:MM:SS'")] = None,
    yaml_file: Annotated[Optional[Path], typer.Option(
        "--yaml", help="cluster_snapshot.yaml (default: beside fe.conf, if present)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the plan and change nothing")] = False,
) -> None:
    """Restore a cluster from a snapshot (optionally to a point in time), with a progress bar per phase."""
    try:
        config = load_config(conf)
        path = yaml_file or conf.parent / "cluster_snapshot.yaml"
        spec = read_snapshot_yaml(path) if path.exists() else ClusterSnapshotYaml()
        if snapshot is not None or to is not None:
            section = spec.cluster_snapshot or SnapshotSection(cluster_snapshot_path=snapshot or "")
            if snapshot is not None:
                section = section.model_copy(update={"cluster_snapshot_path": snapshot})
            if to is not None:
                target = RestoreTarget(journal_id=int(to)) if to.isdigit() else RestoreTarget(time=to)
                section = section.model_copy(update={"restore_to": target})
            spec = spec.model_copy(update={"cluster_snapshot": section})
        plan = plan_restore(config, spec)
        table = Table("plan", "", title="Restore plan" + (" (dry run: nothing will change)" if dry_run else ""))
        for item, value in plan.describe():
            table.add_row(item, value)
        console.print(table)
        if dry_run:
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("restore", total=len(PHASES))

            def advance(phase: str) -> None:
                bar.update(task, description=phase, completed=PHASES.index(phase))

            incarnation = restore(plan, config, spec, advance)
            bar.update(task, description="done", completed=len(PHASES))
        console.print(f"[green]restored[/green] cluster {plan.keys.cluster_id} as incarnation {incarnation}; "
                      f"start the FE with `cairn fe --conf {conf}`")
    except CairnError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
