"""Replace one sub-plan inside a serialised DataFusion physical plan.

DataFusion's Python API (v55) serialises a physical plan (`ExecutionPlan.to_bytes`) and runs
one partition of it (`SessionContext.execute`), but cannot build or rewrite a plan: there is no
way to put a "read this stage's exchanged output" node in place of a sub-plan, which is what
datafusion-ray does in Rust. A sub-plan's encoding is the exact bytes of one length-delimited
field of its parent's encoding, so it can be swapped at the protobuf wire level and the lengths
of the enclosing messages fixed up. Nothing here knows DataFusion's schema.
"""

from __future__ import annotations


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
    """Rewrite `msg` (a protobuf message) with its bytes [start, end) — exactly one nested
    length-delimited value — replaced by `new`."""
    out = bytearray()
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
                out += msg[field_start:i] + _enc_varint(len(inner)) + inner
                out += msg[v1:]
                return bytes(out)
            i = v1
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out += msg[field_start:i]
    raise ValueError("sub-plan is not one field of the plan")


def replace_subplan(plan: bytes, old: bytes, new: bytes) -> bytes:
    """Every occurrence of the sub-plan `old` in `plan` replaced by `new` (a sub-plan that occurs
    twice, such as a view read twice, gives the same rows both times)."""
    if plan == old:
        return new
    if plan.find(old) < 0:
        raise ValueError("sub-plan not found in plan")
    while True:
        at = plan.find(old)
        if at < 0:
            return plan
        plan = _rewrite(plan, at, at + len(old), new)
