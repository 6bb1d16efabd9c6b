"""Catalog operations on the cluster's nodes (ALTER SYSTEM ADD / DROP COMPUTE NODE)."""

from __future__ import annotations

from typing import Literal

from cairn.catalog.model import CatalogState, ComputeNode
from cairn.catalog.op_base import Op


class AddComputeNodes(Op):
    kind: Literal["add_compute_nodes"] = "add_compute_nodes"
    nodes: list[ComputeNode]

    def apply(self, state: CatalogState, at: float) -> None:
        state.compute_nodes.extend(self.nodes)


class DropComputeNodes(Op):
    kind: Literal["drop_compute_nodes"] = "drop_compute_nodes"
    addresses: list[str]

    def apply(self, state: CatalogState, at: float) -> None:
        state.compute_nodes = [n for n in state.compute_nodes if n.address not in self.addresses]
