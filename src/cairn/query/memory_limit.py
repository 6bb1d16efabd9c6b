"""The error a query over its memory limit fails with, in StarRocks' words (its BE's MemTracker)."""

from __future__ import annotations

from cairn.errors import QueryMemoryExceededError


def memory_exceeded(query: str, backend: str, limit: int, detail: str) -> QueryMemoryExceededError:
    """`query` (a name such as Query<id>) needed more memory on `backend` than `limit` bytes (0: the
    limit of the node's whole query pool, not the query's own) and could not spill; `detail` says
    what the engine was doing."""
    detail = detail.strip().rstrip(".")
    if limit > 0:
        return QueryMemoryExceededError(
            f"Memory of {query} exceed limit. {detail}. Backend: {backend}, Limit: {limit}. Mem usage has exceed "
            "the limit of single query, You can change the limit by set session variable query_mem_limit.")
    return QueryMemoryExceededError(f"Memory of {query} exceed limit. {detail}. Backend: {backend}. Mem usage has "
                                    "exceed the limit of query pool")
