"""Catalog operations on the cluster's nodes (ALTER SYSTEM ADD / DROP COMPUTE NODE)."""

from __future__ import annotations

from cairn.catalog.model import CatalogState, ComputeNode
from cairn.catalog.ops import Op


class AddComputeNodes(Op):
    kind = "add_compute_nodes"
    nodes: list[ComputeNode]

    def apply(self, state: CatalogState, at: float) -> None:
        state.compute_nodes.extend(self.nodes)


class DropComputeNodes(Op):
    kind = "drop_compute_nodes"
    addresses: list[str]

    def apply(self, state: CatalogState, at: float) -> None:
        state.compute_nodes = [n for n in state.compute_nodes if n.address not in self.addresses]
