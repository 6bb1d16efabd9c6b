"""What the chaos run's clients were told, and the check of what the cluster holds against it.

Every insert is a batch with a unique id and a known row count. A client either got an answer
(acknowledged, or failed) or could not learn the outcome (the connection was lost mid-commit, or the
server said the outcome is unknown): such a batch may or may not be there, never a violation either
way. Each observation settles the unknown outcomes it sees.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import Enum

# What a server says when it could not learn whether a commit landed.
UNKNOWN_OUTCOME_WORDS = ("unknown outcome", "outcome is unknown", "may have been committed", "may or may not")

Observed = dict[str, dict[int, int]]  # table -> batch id -> rows present


class Outcome(str, Enum):
    ACKED = "acknowledged"
    UNKNOWN = "unknown"
    FAILED = "failed"


@dataclass
class Batch:
    table: str
    rows: int
    outcome: Outcome
    how: str  # insert, insert-select, stream-load
    message: str = ""  # what the client was told when it was not OK


@dataclass
class Model:
    """The cluster's content as clients were told it: tables created and dropped, batches loaded."""

    created: dict[str, Outcome] = field(default_factory=dict)
    dropped: dict[str, Outcome] = field(default_factory=dict)
    batches: dict[int, Batch] = field(default_factory=dict)

    def live_tables(self) -> list[str]:
        """Tables whose creation was acknowledged and whose drop was never attempted."""
        return sorted(t for t, o in self.created.items() if o is Outcome.ACKED and t not in self.dropped)

    def copy(self) -> Model:
        return copy.deepcopy(self)


def check(observed: Observed, model: Model) -> list[str]:
    """Violations of what clients were told; an empty list when the cluster keeps every promise."""
    problems = []
    for table, outcome in model.created.items():
        drop = model.dropped.get(table)
        if outcome is Outcome.ACKED and drop is None and table not in observed:
            problems.append(f"acknowledged CREATE TABLE {table} is lost")
        if drop is Outcome.ACKED and table in observed:
            problems.append(f"acknowledged DROP TABLE {table} is undone")
    for table in observed:
        if model.created.get(table, Outcome.FAILED) is Outcome.FAILED:
            problems.append(f"table {table} exists though its CREATE TABLE failed or never ran")
    for batch_id, batch in model.batches.items():
        present = observed.get(batch.table, {}).get(batch_id)
        table_may_be_gone = batch.table not in observed and model.dropped.get(batch.table) is not None
        if batch.outcome is Outcome.ACKED and present is None and not table_may_be_gone:
            problems.append(f"acknowledged {batch.how} batch {batch_id} ({batch.rows} rows into {batch.table}) "
                            "is lost")
        if present is not None and present != batch.rows:
            problems.append(f"{batch.how} batch {batch_id} into {batch.table} is torn: {present} of "
                            f"{batch.rows} rows")
        if present is not None and batch.outcome is Outcome.FAILED:
            problems.append(f"{batch.how} batch {batch_id} into {batch.table} is present though its client was "
                            "told it failed (or it was seen absent before)")
    for table, batches in observed.items():
        for batch_id in batches.keys() - model.batches.keys():
            problems.append(f"batch {batch_id} in {table} was never loaded by any client")
    return problems


def settle(observed: Observed, model: Model, committed: set[int] | None = None) -> int:
    """Turn every unknown outcome into what `observed` shows; return how many were settled. A
    failed change that is there anyway (a violation `check` reported) is taken as done, so that
    it is reported once. A batch of a table no longer there (dropped) settles from `committed`, the
    batches the journal holds, when given; else it stays as it is."""
    settled = 0
    for table, outcome in model.created.items():
        if outcome is Outcome.UNKNOWN:
            settled += 1
        if outcome is not Outcome.ACKED:
            model.created[table] = Outcome.ACKED if table in observed else Outcome.FAILED
    for table, outcome in model.dropped.items():
        if outcome is Outcome.UNKNOWN:
            model.dropped[table] = Outcome.FAILED if table in observed else Outcome.ACKED
            settled += 1
    for table in [t for t, o in model.dropped.items() if o is Outcome.FAILED]:
        del model.dropped[table]  # the table lives on: it may be loaded and dropped again
    for batch_id, batch in model.batches.items():
        if batch.outcome is Outcome.ACKED:
            continue
        if batch.table in observed:
            there = batch_id in observed[batch.table]
        elif committed is not None:
            there = batch_id in committed
        else:
            continue
        settled += batch.outcome is Outcome.UNKNOWN
        batch.outcome = Outcome.ACKED if there else Outcome.FAILED
    return settled


def classify_error(message: str, connection_lost: bool) -> Outcome:
    """A failed statement's outcome: unknown when the client cannot know, failed otherwise."""
    if connection_lost or any(words in message.lower() for words in UNKNOWN_OUTCOME_WORDS):
        return Outcome.UNKNOWN
    return Outcome.FAILED
