"""Replace one sub-plan inside an encoded DataFusion physical plan.

DataFusion's Python API serialises a physical plan (`ExecutionPlan.to_bytes`) and runs one partition
of it, but cannot build or rewrite a plan: there is no node that reads a stage's exchanged output,
which datafusion-ray adds in Rust. A sub-plan's encoding is the exact bytes of one length-delimited
field of its parent's encoding, so it is swapped at the protobuf wire level and the lengths of the
enclosing messages fixed up. Nothing here knows DataFusion's schema.
"""

from __future__ import annotations

from cairn.errors import DistributedPlanError


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _rewrite(msg: bytes, start: int, end: int, new: bytes) -> bytes:
    """`msg` (a protobuf message) with its bytes [start, end), exactly one nested length-delimited
    value, replaced by `new`; the lengths of the values enclosing it are rewritten."""
    i = 0
    while i < len(msg):
        field_start = i
        key, i = _varint(msg, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(msg, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, j = _varint(msg, i)
            v0, v1 = j, j + length
            if v0 <= start and end <= v1:
                inner = new if (v0, v1) == (start, end) else _rewrite(msg[v0:v1], start - v0, end - v0, new)
                return b"".join((msg[:field_start], msg[field_start:i], _enc_varint(len(inner)), inner, msg[v1:]))
            i = v1
        else:
            raise DistributedPlanError(f"unsupported protobuf wire type {wire} in an encoded plan")
    raise DistributedPlanError("an exchange's sub-plan is not one field of its stage's plan")


def replace_subplan(plan: bytes, old: bytes, new: bytes) -> bytes:
    """Every occurrence of the encoded sub-plan `old` in `plan` replaced by `new` (a sub-plan that
    occurs twice, such as a view read twice, reads the same rows both times)."""
    if plan == old:
        return new
    at = plan.find(old)
    if at < 0:
        raise DistributedPlanError("an exchange's sub-plan was not found in its stage's plan")
    while at >= 0:
        plan = _rewrite(plan, at, at + len(old), new)
        at = plan.find(old)
    return plan
