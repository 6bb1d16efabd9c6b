"""CatalogOp: every catalog operation, as one discriminated union on `kind`.

The journal is read through this union and nothing else, so an op is either a member (it is
written, read and replayed) or unknown (its entry is refused), never half-registered. The ops
themselves live beside the concept they change; they are re-exported here for the callers.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError

from cairn.catalog.node_ops import AddComputeNodes, AddFrontend, DropComputeNodes, DropFrontend
from cairn.catalog.op_base import Op
from cairn.catalog.schema_ops import (
    AddPartitions,
    AllocateAutoIncrement,
    AlterStorageVolume,
    AlterTableSchema,
    CommitVersions,
    CreateDatabase,
    CreateStorageVolume,
    CreateTable,
    DropDatabase,
    DropPartition,
    DropStorageVolume,
    DropTable,
    EpochStart,
    PartitionVersion,
    RecoverTable,
    RenameDatabase,
    RenamePartition,
    RenameTable,
    ReplacePartitions,
    SetDefaultStorageVolume,
    Superseded,
    VoidSlot,
)
from cairn.catalog.snapshot_ops import PutSnapshotJob, SetAutomatedSnapshots
from cairn.catalog.user_ops import CreateUser, DropUser, GrantPrivileges, RevokePrivileges, SetUserPassword
from cairn.catalog.view_ops import DropView, PutView
from cairn.errors import JournalError

CatalogOp = Annotated[
    Union[
        EpochStart, Superseded, VoidSlot,
        CreateStorageVolume, AlterStorageVolume, DropStorageVolume, SetDefaultStorageVolume,
        CreateDatabase, DropDatabase, CreateTable, DropTable, AddPartitions, DropPartition, CommitVersions,
        AlterTableSchema, RenameTable, RenamePartition, ReplacePartitions, RecoverTable, AllocateAutoIncrement,
        RenameDatabase,
        AddComputeNodes, DropComputeNodes, AddFrontend, DropFrontend,
        CreateUser, SetUserPassword, DropUser, GrantPrivileges, RevokePrivileges,
        SetAutomatedSnapshots, PutSnapshotJob,
        PutView, DropView,
    ],
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(CatalogOp)


def parse_op(data: dict[str, Any]) -> Op:
    """Rebuild an op from its journal form; JournalError for an unknown kind or a malformed op."""
    try:
        op: Op = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            raise JournalError(f"unknown journal operation '{data.get('kind')}'") from None
        raise JournalError(f"journal operation '{data.get('kind')}' is not valid: {first['msg']} "
                           f"at {'.'.join(str(p) for p in first['loc'])}") from None
    return op


__all__ = [
    "AddComputeNodes", "AddFrontend", "AddPartitions", "AllocateAutoIncrement", "AlterStorageVolume", "AlterTableSchema", "CatalogOp", "CommitVersions", "CreateDatabase",
    "CreateStorageVolume", "CreateTable", "CreateUser", "DropComputeNodes", "DropDatabase", "DropFrontend", "DropPartition",
    "DropStorageVolume", "DropTable", "DropUser", "DropView", "EpochStart", "GrantPrivileges", "Op", "PartitionVersion",
    "PutSnapshotJob", "PutView", "RecoverTable", "RenameDatabase", "RenamePartition", "RenameTable", "ReplacePartitions", "RevokePrivileges", "SetAutomatedSnapshots", "SetDefaultStorageVolume", "SetUserPassword",
    "Superseded", "VoidSlot", "parse_op",
]
