"""`cairn`: start an FE (`cairn fe`), or the whole embedded default (`cairn up`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from cairn import __version__
from cairn.api import load_config
from cairn.cli import snapshot_commands
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.process import configure_logging, run_frontend

app = typer.Typer(help="Cairn: an analytical database whose whole state lives on object storage.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
app.add_typer(snapshot_commands.app, name="snapshot")


def _fail(exc: CairnError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


@app.command()
def version() -> None:
    """Print Cairn's version."""
    typer.echo(__version__)


@app.command()
def fe(conf: Annotated[Optional[Path], typer.Option("--conf", help="fe.conf to read (StarRocks keys)")] = None) -> None:
    """Start a frontend: MySQL protocol on query_port, HTTP on http_port."""
    try:
        config = load_config(conf)
        configure_logging(config.sys_log_level)
        run_frontend(config)
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


if __name__ == "__main__":
    app()
