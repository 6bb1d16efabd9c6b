"""`cairn`: start an FE (`cairn fe`), or the whole embedded default (`cairn up`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import SecretStr
from rich.console import Console

from cairn import __version__
from cairn.api import load_config
from cairn.cli import snapshot_commands
from cairn.cli.operator_command import operator_command
from cairn.cli.restore_command import restore_command
from cairn.cn.local_nodes import LocalNode, start_local_nodes, stop_local_nodes
from cairn.cn.process import run_compute_node
from cairn.config.cluster_credential import new_credential
from cairn.config.cn_config import CnConfig
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.process import configure_logging, run_frontend
from cairn.server.session import Session

app = typer.Typer(help="Cairn: an analytical database whose whole state lives on object storage.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
app.add_typer(snapshot_commands.app, name="snapshot")
app.command("restore")(restore_command)
app.command("operator")(operator_command)


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
    helper: Annotated[Optional[str], typer.Option(
        "--helper", help="host:edit_log_port of an FE of the cluster to join, on this FE's first start (after "
                         "ALTER SYSTEM ADD FOLLOWER|OBSERVER on the leader)")] = None,
    join: Annotated[bool, typer.Option(
        "--join", help="ask the leader (found through --helper) to add this FE as a follower when it is not a "
                       "member; an FE whose own address is the helper's starts or resumes the cluster instead "
                       "(what Kubernetes pods do)")] = False,
    frontend_address: Annotated[Optional[str], typer.Option(
        "--frontend-address", help="this FE's host name or address (fe.conf frontend_address), e.g. its pod's "
                                   "stable name")] = None,
    meta_dir: Annotated[Optional[str], typer.Option(
        "--meta-dir", help="where this FE keeps its metadata (fe.conf meta_dir), e.g. its pod's volume")] = None,
) -> None:
    """Start a frontend: MySQL protocol on query_port, HTTP on http_port (restoring first if asked)."""
    try:
        overrides = {k: v for k, v in (("frontend_address", frontend_address), ("meta_dir", meta_dir)) if v}
        config = load_config(conf, **overrides)
        configure_logging(config.sys_log_level)
        if join and helper == f"{config.frontend_address}:{config.edit_log_port}":
            helper = None  # this FE is the helper the others join through: it opens the cluster itself
        if cluster_snapshot is None and os.environ.get("RESTORE_CLUSTER_SNAPSHOT", "").lower() == "true":
            cluster_snapshot = ""
        restore_from = None
        if cluster_snapshot is not None:
            beside = (conf.parent if conf else Path(".")) / "cluster_snapshot.yaml"
            restore_from = Path(cluster_snapshot) if cluster_snapshot else beside
        run_frontend(config, restore_from=restore_from, helper=helper, join=join)
    except CairnError as exc:
        _fail(exc)


@app.command()
def cn(
    conf: Annotated[Optional[Path], typer.Option("--conf", help="cn.conf to read (StarRocks keys)")] = None,
    host: Annotated[Optional[str], typer.Option(
        "--host", help="this node's host name or address (cn.conf host), e.g. its pod's stable name")] = None,
    join: Annotated[Optional[str], typer.Option(
        "--join", help="host:edit_log_port of an FE: register this node through it (with the cluster credential) "
                       "once serving, retrying until an FE answers")] = None,
    storage_root_path: Annotated[Optional[str], typer.Option(
        "--storage-root-path", help="where this node keeps its cache (cn.conf storage_root_path), e.g. its "
                                    "pod's volume")] = None,
) -> None:
    """Start a compute node: Arrow Flight data service on thrift_port, heartbeats on heartbeat_service_port."""
    try:
        config = CnConfig.load(conf)
        updates = {k: v for k, v in (("host", host), ("storage_root_path", storage_root_path)) if v}
        if updates:
            config = config.model_copy(update=updates)
        configure_logging(config.sys_log_level)
        run_compute_node(config, join=join)
    except CairnError as exc:
        _fail(exc)


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="where the embedded volume and metadata live")] = Path("cairn-data"),
    port: Annotated[int, typer.Option(help="MySQL protocol port")] = 9030,
    http_port: Annotated[int, typer.Option(help="HTTP port")] = 8030,
    edit_log_port: Annotated[int, typer.Option(help="port other FEs reach this one on")] = 9010,
    cn: Annotated[int, typer.Option("--cn", min=0, help="compute nodes to start beside the FE (0: the FE's "
                                                       "embedded engine does the data work)")] = 0,
) -> None:
    """Start Cairn on its embedded default: one FE on a local directory volume, and N compute nodes
    with --cn N (Ctrl-C stops them all)."""
    nodes: list[LocalNode] = []
    try:
        config = load_config(None, meta_dir=str(data_dir / "meta"), local_storage_path=str(data_dir / "storage"),
                             query_port=str(port), http_port=str(http_port), edit_log_port=str(edit_log_port))
        configure_logging(config.sys_log_level)
        if cn and config.credential is None:
            # This run's nodes and FE share a fresh credential, unless one is configured.
            config.cluster_credential = SecretStr(new_credential())
        nodes = start_local_nodes(cn, data_dir, config.credential or "")

        def announce(frontend: Frontend) -> None:
            register_local_nodes(frontend, [n.address for n in nodes])
            console.print(f"[green]Cairn {__version__} is up[/green] (cluster {frontend.keys.cluster_id}, "
                          f"data in {data_dir.resolve()}, compute nodes: {len(nodes) or 'embedded'})", soft_wrap=True)
            console.print(f"Connect with:  mysql -h127.0.0.1 -P{port} -uroot")
            console.print("Stop with Ctrl-C; `cairn up` again resumes the same data.")

        run_frontend(config, on_ready=announce)
    except CairnError as exc:
        _fail(exc)
    finally:
        stop_local_nodes(nodes)


def register_local_nodes(frontend: Frontend, addresses: list[str]) -> None:
    """Make the catalog list exactly this run's local nodes (a previous run's are gone with it)."""
    session = Session(frontend)
    stale = [n.address for n in frontend.catalog.state.compute_nodes if n.address not in addresses]
    if stale:
        session.execute("ALTER SYSTEM DROP COMPUTE NODE " + ", ".join(f'"{a}"' for a in stale))
    if addresses:
        session.execute("ALTER SYSTEM ADD COMPUTE NODE " + ", ".join(f'"{a}"' for a in addresses))


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
