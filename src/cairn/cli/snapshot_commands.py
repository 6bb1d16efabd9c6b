"""`cairn snapshot list|verify`: what an operator needs during a disaster, with no FE running."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from cairn.api import load_config
from cairn.errors import CairnError
from cairn.journal.cluster import clusters_on_volume
from cairn.snapshot.listing import list_snapshots, newest_complete
from cairn.snapshot.location import SnapshotLocation, parse_location
from cairn.snapshot.verify import verify_snapshot
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore, open_store

app = typer.Typer(help="Inspect cluster snapshots on a storage volume (no running FE needed).",
                  no_args_is_help=True)
# Wide when not on a terminal, so piped output keeps whole names.
out = Console() if sys.stdout.isatty() else Console(width=240)
err = Console(stderr=True)

ConfOption = Annotated[Optional[Path], typer.Option("--conf", help="fe.conf with the aws_s3_* storage settings")]


def _open(path: str, conf: Path | None) -> tuple[SnapshotLocation, ObjectStore]:
    location = parse_location(path, load_config(conf) if conf else None)
    return location, open_store(location.volume)


@app.command("list")
def list_command(path: Annotated[str, typer.Argument(help="volume location, or …/<cluster id>/meta")],
                 conf: ConfOption = None) -> None:
    """List snapshots, newest first; the one a restore of …/meta would choose is marked."""
    try:
        location, store = _open(path, conf)
        clusters = [location.cluster_id] if location.cluster_id else clusters_on_volume(store)
        table = Table("cluster", "snapshot", "created", "complete", "chosen for …/meta")
        for cluster in clusters:
            entries = list_snapshots(store, ClusterKeys(cluster))
            chosen = newest_complete(entries)
            for entry in entries:
                created = (datetime.datetime.fromtimestamp(entry.created_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
                           if entry.created_ms else "")
                table.add_row(cluster, entry.name, created, "yes" if entry.complete else "NO (incomplete)",
                              "<-" if entry is chosen else "")
        out.print(table)
    except CairnError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)


@app.command("verify")
def verify_command(path: Annotated[str, typer.Argument(help="…/<cluster id>/meta/image/<snapshot> or …/meta")],
                   deep: Annotated[bool, typer.Option(help="also recount every table and check every checksum")] = False,
                   conf: ConfOption = None) -> None:
    """Prove a snapshot restorable without restoring it; exit 1 and name every problem if not."""
    try:
        location, store = _open(path, conf)
        if location.cluster_id is None:
            raise CairnError(f"'{path}' names no cluster: give …/<cluster id>/meta[/image/<snapshot>]")
        keys = ClusterKeys(location.cluster_id)
        name = location.snapshot
        if name is None:
            chosen = newest_complete(list_snapshots(store, keys))
            if chosen is None:
                raise CairnError(f"no complete snapshot under {path}")
            name = chosen.name

        def store_for(_volume: str) -> ObjectStore:
            return store  # data volumes other than the snapshot's need their own credentials

        report = verify_snapshot(store, keys, name, store_for, deep=deep)
    except CairnError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    mode = "deep" if deep else "shallow"
    if report.ok:
        out.print(f"[green]OK[/green] {name}: {report.objects_checked} objects, {report.tables_checked} tables "
                  f"checked ({mode})")
        return
    out.print(f"[red]FAILED[/red] {name} ({mode}):")
    for problem in report.problems:
        out.print(f"  - {problem}")
    raise typer.Exit(1)
