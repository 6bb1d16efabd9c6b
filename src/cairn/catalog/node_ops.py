"""Catalog operations on the cluster's nodes (ALTER SYSTEM ADD / DROP COMPUTE NODE | FOLLOWER | OBSERVER)."""

from __future__ import annotations

from typing import Literal

from cairn.catalog.model import CatalogState, ComputeNode, FrontendNode
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


class AddFrontend(Op):
    """A member FE joins (ALTER SYSTEM ADD FOLLOWER|OBSERVER, or the first leader listing itself)."""

    kind: Literal["add_frontend"] = "add_frontend"
    node: FrontendNode

    def apply(self, state: CatalogState, at: float) -> None:
        state.frontends = [n for n in state.frontends if n.address != self.node.address] + [self.node]


class DropFrontend(Op):
    """A member FE leaves (ALTER SYSTEM DROP FOLLOWER|OBSERVER, or replaced by the FE now leading)."""

    kind: Literal["drop_frontend"] = "drop_frontend"
    address: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.frontends = [n for n in state.frontends if n.address != self.address]
