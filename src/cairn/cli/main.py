"""`cairn`: start an FE (`cairn fe`), or the whole embedded default (`cairn up`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from cairn import __version__
from cairn.api import load_config
from cairn.cli import snapshot_commands
from cairn.cli.restore_command import restore_command
from cairn.cn.process import run_compute_node
from cairn.config.cn_config import CnConfig
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.process import configure_logging, run_frontend

app = typer.Typer(help="Cairn: an analytical database whose whole state lives on object storage.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
app.add_typer(snapshot_commands.app, name="snapshot")
app.command("restore")(restore_command)


def _fail(exc: CairnError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


@app.command()
def version() -> None:
    """Print Cairn's version."""
    typer.echo(__version__)


@app.command()
def fe(
    conf: Annotated[Optional[Path], typer.Option("--conf", help="fe.conf to read (StarRocks keys)")] = None,
    cluster_snapshot: Annotated[Optional[str], typer.Option(
        "--cluster_snapshot", help="restore first, from this cluster_snapshot.yaml; given with no value: "
                                   "cluster_snapshot.yaml beside fe.conf")] = None,
) -> None:
    """Start a frontend: MySQL protocol on query_port, HTTP on http_port (restoring first if asked)."""
    try:
        config = load_config(conf)
        configure_logging(config.sys_log_level)
        if cluster_snapshot is None and os.environ.get("RESTORE_CLUSTER_SNAPSHOT", "").lower() == "true":
            cluster_snapshot = ""
        restore_from = None
        if cluster_snapshot is not None:
            beside = (conf.parent if conf else Path(".")) / "cluster_snapshot.yaml"
            restore_from = Path(cluster_snapshot) if cluster_snapshot else beside
        run_frontend(config, restore_from=restore_from)
    except CairnError as exc:
        _fail(exc)


@app.command()
def cn(
    conf: Annotated[Optional[Path], typer.Option("--conf", help="cn.conf to read (StarRocks keys)")] = None,
) -> None:
    """Start a compute node: Arrow Flight data service on thrift_port, heartbeats on heartbeat_service_port."""
    try:
        config = CnConfig.load(conf)
        configure_logging(config.sys_log_level)
        run_compute_node(config)
    except CairnError as exc:
        _fail(exc)


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="where the embedded volume and metadata live")] = Path("cairn-data"),
    port: Annotated[int, typer.Option(help="MySQL protocol port")] = 9030,
    http_port: Annotated[int, typer.Option(help="HTTP port")] = 8030,
) -> None:
    """Start Cairn on its embedded default: one FE on a local directory volume (Ctrl-C stops it)."""
    try:
        config = load_config(None, meta_dir=str(data_dir / "meta"), local_storage_path=str(data_dir / "storage"),
                             query_port=str(port), http_port=str(http_port))
        configure_logging(config.sys_log_level)

        def announce(frontend: Frontend) -> None:
            console.print(f"[green]Cairn {__version__} is up[/green] (cluster {frontend.keys.cluster_id}, "
                          f"data in {data_dir.resolve()})")
            console.print(f"Connect with:  mysql -h127.0.0.1 -P{port} -uroot")
            console.print("Stop with Ctrl-C; `cairn up` again resumes the same data.")

        run_frontend(config, on_ready=announce)
    except CairnError as exc:
        _fail(exc)


def main() -> None:
    """The `cairn` command. `--cluster_snapshot` may come without a value, as StarRocks' FE takes it."""
    args = sys.argv[1:]
    for index, arg in enumerate(args):
        if arg == "--cluster_snapshot" and (index + 1 == len(args) or args[index + 1].startswith("--")):
            args.insert(index + 1, "")
            break
    app(args)


if __name__ == "__main__":
    main()
