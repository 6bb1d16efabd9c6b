"""Catalog ops are one discriminated union: every op is a member, and what today's buckets hold parses."""

from __future__ import annotations

import json
import tarfile
import typing
from pathlib import Path

import pytest

from cairn.catalog.op_base import Op
from cairn.catalog.ops import CatalogOp, parse_op
from cairn.errors import JournalError

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy_v1.tar.gz"


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_all_subclasses(c) for c in found)) if found else found


def test_every_op_class_is_a_member_of_the_union_with_its_own_kind() -> None:
    members = typing.get_args(typing.get_args(CatalogOp)[0])
    assert set(members) == _all_subclasses(Op)
    kinds = [m.model_fields["kind"].default for m in members]
    assert len(set(kinds)) == len(kinds) and all(isinstance(k, str) and k for k in kinds)


def test_a_legacy_journal_parses_op_by_op_and_round_trips() -> None:
    with tarfile.open(FIXTURE) as tar:
        entries = [json.loads(tar.extractfile(m).read()) for m in tar.getmembers()  # type: ignore[union-attr]
                   if "/meta/journal/" in m.name and m.isfile()]
    assert len(entries) > 20
    kinds = set()
    for entry in entries:
        op = parse_op(entry["op"])
        written = op.to_dict()
        # Nothing the old entry said is lost or changed; fields added since take their defaults.
        assert {k: v for k, v in written.items() if k in entry["op"]} == entry["op"]
        added = set(written) - set(entry["op"])
        assert all(written[k] == type(op).model_fields[k].default for k in added), added
        kinds.add(op.kind)
    assert {"epoch_start", "create_table", "commit_versions", "grant_privileges", "drop_table",
            "create_storage_volume", "put_snapshot_job", "add_compute_nodes"} <= kinds


@pytest.mark.parametrize("op, message", [
    ({"kind": "format_disk"}, "unknown journal operation 'format_disk'"),
    ({"epoch": 3}, "unknown journal operation 'None'"),
    ({"kind": "grant_privileges", "name": "x"}, "'grant_privileges' is not valid"),
])
def test_an_unknown_or_malformed_op_is_a_journal_error(op: dict[str, object], message: str) -> None:
    with pytest.raises(JournalError, match=message):
        parse_op(op)
