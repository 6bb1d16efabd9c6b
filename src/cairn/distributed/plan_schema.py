"""The output schema of every node of a DataFusion physical plan.

DataFusion's Python API has no `ExecutionPlan.schema`, and a partition that produced no rows has no
batch to read a schema from, yet an empty exchange still needs one. EXPLAIN with
`datafusion.explain.show_schema` prints the same plan (planning is deterministic) with each node's
schema, one node a line in pre-order; this parses it.
"""

from __future__ import annotations

import re

import pyarrow as pa
from datafusion import SessionContext
from datafusion.plan import ExecutionPlan

_TYPES: dict[str, pa.DataType] = {
    "Utf8View": pa.string_view(), "Utf8": pa.string(), "LargeUtf8": pa.large_string(),
    "BinaryView": pa.binary_view(), "Binary": pa.binary(), "LargeBinary": pa.large_binary(),
    "Int8": pa.int8(), "Int16": pa.int16(), "Int32": pa.int32(), "Int64": pa.int64(),
    "UInt8": pa.uint8(), "UInt16": pa.uint16(), "UInt32": pa.uint32(), "UInt64": pa.uint64(),
    "Float16": pa.float16(), "Float32": pa.float32(), "Float64": pa.float64(),
    "Boolean": pa.bool_(), "Date32": pa.date32(), "Date64": pa.date64(), "Null": pa.null(),
    "Timestamp(Microsecond, None)": pa.timestamp("us"), "Timestamp(Nanosecond, None)": pa.timestamp("ns"),
    "Timestamp(Millisecond, None)": pa.timestamp("ms"), "Timestamp(Second, None)": pa.timestamp("s"),
    "Timestamp(µs)": pa.timestamp("us"), "Timestamp(ns)": pa.timestamp("ns"),
    "Timestamp(ms)": pa.timestamp("ms"), "Timestamp(s)": pa.timestamp("s"),
}
_FIELD = re.compile(
    r"(?P<name>.+?):(?P<type>Decimal128\((?P<p>\d+), (?P<s>\d+)\)|"
    + "|".join(re.escape(t) for t in sorted(_TYPES, key=len, reverse=True))
    + r")(?P<null>;N)?(?:, |$)")


def parse_schema(text: str) -> pa.Schema | None:
    """The schema EXPLAIN prints as `a:Int64;N, b:Utf8`, or None if a type is not one known here."""
    fields = []
    pos = 0
    while pos < len(text):
        m = _FIELD.match(text, pos)
        if m is None:
            return None
        t = pa.decimal128(int(m["p"]), int(m["s"])) if m["p"] else _TYPES[m["type"]]
        fields.append(pa.field(m["name"], t, nullable=bool(m["null"])))
        pos = m.end()
    return pa.schema(fields)


def plan_schemas(ctx: SessionContext, sql: str, plan: ExecutionPlan) -> dict[bytes, pa.Schema]:
    """The output schema of each node of `plan` (planned from `sql` in `ctx`), keyed by the node's
    encoding; a node whose schema EXPLAIN does not show in a known form is left out."""
    ctx.sql("set datafusion.explain.show_schema = true")
    try:
        rows = ctx.sql("explain " + sql).to_pylist()
    finally:
        ctx.sql("set datafusion.explain.show_schema = false")
    text = next((str(r["plan"]) for r in rows if r["plan_type"] == "physical_plan"), "")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    nodes: list[ExecutionPlan] = []

    def walk(n: ExecutionPlan) -> None:
        nodes.append(n)
        for c in n.children():
            walk(c)

    walk(plan)
    out: dict[bytes, pa.Schema] = {}
    if len(lines) != len(nodes):
        return out
    for node, line in zip(nodes, lines):
        at = line.rfind(", schema=[")
        schema = parse_schema(line[at + len(", schema=["):-1]) if at >= 0 else None
        if schema is not None:
            out[node.to_bytes()] = schema
    return out
