"""`cairn operator`: the Kubernetes operator for StarRocksCluster resources."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cairn.server.process import configure_logging


def operator_command(
    api_server: Annotated[Optional[str], typer.Option(
        "--api-server", help="URL of the Kubernetes API server, without authentication (tests); default: in-cluster, "
                             "else the kubeconfig")] = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="kubeconfig file to use")] = None,
    namespace: Annotated[Optional[list[str]], typer.Option(
        "--namespace", "-n", help="watch only this namespace (repeatable); default: cluster-wide")] = None,
    interval: Annotated[float, typer.Option(help="seconds between two reconciles of a cluster")] = 5.0,
    metrics_port: Annotated[int, typer.Option(help="serve Prometheus /metrics on this port (0: off)")] = 0,
    metrics_host: Annotated[str, typer.Option(help="address the metrics port listens on")] = "0.0.0.0",
    ignored_fields: Annotated[Optional[str], typer.Option(
        "--ignored-fields", help="deploy/crd/ignored-fields.txt: StarRocks fields Cairn ignores, reported once each "
                                 "in an Event when set")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """Run the operator: StatefulSets, Services and ConfigMaps for each StarRocksCluster, and its
    declarative disaster recovery (spec.disasterRecovery)."""
    configure_logging(log_level)
    # kopf and the Kubernetes client take seconds to import: only this command pays for them.
    from cairn.operator.handlers import OperatorOptions, run_operator

    run_operator(OperatorOptions(api_server=api_server, kubeconfig=kubeconfig, namespaces=namespace or [],
                                 interval=interval, metrics_host=metrics_host, metrics_port=metrics_port,
                                 ignored_fields_file=ignored_fields))
