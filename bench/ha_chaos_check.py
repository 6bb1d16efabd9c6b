"""The multi-FE chaos run's journal check: what the log on the bucket says about leaders and commits.

Read with Cairn's own journal classes, the log must show fenced leadership:

- `epoch_start` entries carry strictly increasing epochs, and every other entry carries the epoch of
  the newest `epoch_start` before it (an entry of an older epoch after a newer `epoch_start` is a
  commit by a deposed leader);
- every batch a client was told is loaded has its commit entry (found by its load label), and no
  batch a client was told failed has one;
- every commit was made (its entry's time) before any newer epoch began, and no FE acknowledged, in
  its old epoch, a statement that was sent after a newer epoch had begun.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cairn.api import load_config
from cairn.journal.cluster import builtin_volume, read_cluster_file
from cairn.journal.incarnation import choose_incarnation
from cairn.journal.log import Journal
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import open_store

from bench.chaos_model import Model, Outcome

LABEL = re.compile(r"^ha_\d+_[il](\d+)$")


@dataclass
class Ack:
    """Who acknowledged a batch (the FE the client talked to, host:edit_log_port), and when (epoch seconds)."""

    batch: int
    label: str
    fe: str
    sent: float
    acked: float


@dataclass
class EpochStartFact:
    entry_id: int
    epoch: int
    address: str
    timestamp: float


@dataclass
class CommitFact:
    entry_id: int
    epoch: int
    timestamp: float


@dataclass
class JournalFacts:
    """What one reading of the log found: its epoch starts, labelled commits, and fencing violations."""

    incarnation: int
    entries: int = 0
    starts: list[EpochStartFact] = field(default_factory=list)
    commits: dict[str, CommitFact] = field(default_factory=dict)  # load label -> its commit entry
    problems: list[str] = field(default_factory=list)

    def committed_batches(self) -> set[int]:
        return {int(m.group(1)) for label in self.commits if (m := LABEL.match(label))}

    def leader_of(self, epoch: int) -> str:
        return next((s.address for s in self.starts if s.epoch == epoch), "")

    def next_start(self, epoch: int) -> EpochStartFact | None:
        """The first epoch start above `epoch`: when a newer leader took the log."""
        return next((s for s in self.starts if s.epoch > epoch), None)


def read_journal(fe_values: dict[str, str], meta_dir: Path) -> JournalFacts:
    """Read the whole log of the cluster's current incarnation (the run keeps it: no vacuum)."""
    config = load_config(None, **fe_values)
    store = open_store(builtin_volume(config))
    cluster_id = read_cluster_file(meta_dir)
    assert cluster_id is not None, f"no cluster file in {meta_dir}"
    keys = ClusterKeys(cluster_id)
    incarnation = choose_incarnation(store, keys)
    facts = JournalFacts(incarnation)
    epoch, start_id = 0, 0
    for entry in Journal(store, keys, incarnation).read_after(0):
        facts.entries += 1
        kind = entry.op.get("kind")
        if kind == "void_slot":
            continue
        if kind == "epoch_start":
            new = int(entry.op["epoch"])
            if new <= epoch:
                facts.problems.append(f"journal entry {entry.entry_id} starts epoch {new}, not above epoch {epoch} "
                                      f"(begun at entry {start_id})")
            epoch, start_id = max(epoch, new), entry.entry_id
            facts.starts.append(EpochStartFact(entry.entry_id, new, str(entry.op.get("address", "")),
                                               entry.timestamp))
            continue
        if entry.epoch != epoch:
            facts.problems.append(f"journal entry {entry.entry_id} ({kind}) carries epoch {entry.epoch} after "
                                  f"epoch {epoch} began at entry {start_id}: a commit by a deposed leader")
        label = entry.op.get("label")
        if kind == "commit_versions" and label:
            facts.commits[str(label)] = CommitFact(entry.entry_id, entry.epoch, entry.timestamp)
    return facts


def check_journal(facts: JournalFacts, model: Model, acks: dict[int, Ack]) -> list[str]:
    """Violations of fenced leadership and of what clients were told, as the log shows them."""
    problems = list(facts.problems)
    by_batch = {int(m.group(1)): (label, commit) for label, commit in facts.commits.items()
                if (m := LABEL.match(label))}
    for batch_id, batch in model.batches.items():
        found = by_batch.get(batch_id)
        if batch.outcome is Outcome.ACKED and found is None:
            problems.append(f"acknowledged {batch.how} batch {batch_id} has no commit in the journal")
        if batch.outcome is Outcome.FAILED and found is not None:
            problems.append(f"{batch.how} batch {batch_id}, whose client was told it failed, is committed in "
                            f"journal entry {found[1].entry_id} (told: {batch.message or 'nothing'})")
        if found is None:
            continue
        commit = found[1]
        newer = facts.next_start(commit.epoch)
        if newer is not None and commit.timestamp > newer.timestamp:
            problems.append(f"batch {batch_id} was committed (entry {commit.entry_id}, epoch {commit.epoch}) "
                            f"{commit.timestamp - newer.timestamp:.3f} s after epoch {newer.epoch} began "
                            f"(entry {newer.entry_id})")
        ack = acks.get(batch_id)
        if ack is None or newer is None or ack.fe != facts.leader_of(commit.epoch):
            continue  # forwarded, or no newer epoch: nothing to compare
        if ack.sent > newer.timestamp:
            problems.append(f"FE {ack.fe} acknowledged batch {batch_id} in its epoch {commit.epoch}, though the "
                            f"statement was sent {ack.sent - newer.timestamp:.3f} s after epoch {newer.epoch} "
                            f"began at {newer.address}")
    return problems
