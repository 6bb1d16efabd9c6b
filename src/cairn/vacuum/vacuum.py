"""Vacuum: delete data objects outside the live set once they have been dead for a grace period.

An object is deleted only when two runs, at least `vacuum_grace_period_seconds` apart, both found
it outside the live set and older than the grace period — so a statement that began reading an
old version just before a run is never robbed of its files. Objects written after the live set was
computed are never candidates: only those older than it by MIN_AGE_SECONDS (a margin for stores
that keep modification times in whole seconds) are. That margin covers what is put after the live
set, never what was put before it: loads and compactions pin each key before they put its object and
hold the pin until their commit (a listing in whole seconds can make an object a second older).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from cairn.vacuum.journal_cleanup import clean_journal
from cairn.vacuum.live_set import LiveSources, live_set

log = logging.getLogger(__name__)

MIN_AGE_SECONDS = 1.0


@dataclass
class VacuumReport:
    """What one run examined, found dead, and deleted (nothing when `dry_run`)."""

    examined: int = 0
    dead: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    journal_entries_deleted: int = 0
    images_deleted: int = 0
    seconds: float = 0.0
    dry_run: bool = False


class Vacuum:
    """Runs vacuum for one FE and remembers since when each dead object has been dead."""

    def __init__(self, sources: LiveSources) -> None:
        self.sources = sources
        self._dead_since: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def run(self, dry_run: bool = False) -> VacuumReport:
        """One pass over the data of every volume in use. Raises CairnError if storage fails."""
        started = time.perf_counter()
        report = VacuumReport(dry_run=dry_run)
        grace = self.sources.config.vacuum_grace_period_seconds
        with self._lock:
            computed_at = time.time()
            live = live_set(self.sources, self.sources.config.catalog_trash_expire_second)
            cutoff = computed_at - max(grace, MIN_AGE_SECONDS)
            state = self.sources.catalog.state
            volumes = {db.storage_volume for db in state.databases.values()}
            volumes |= {d.storage_volume for d in state.recycle_bin if d.storage_volume in state.storage_volumes}
            now = time.time()
            seen: set[tuple[str, str]] = set()
            for volume in sorted(volumes):
                store = self.sources.stores(volume)
                doomed, sizes = [], 0
                for info in store.list(self.sources.keys.data_prefix):
                    report.examined += 1
                    if live.needs(volume, info.key) or info.last_modified.timestamp() > cutoff:
                        continue
                    report.dead += 1
                    marker = (volume, info.key)
                    seen.add(marker)
                    first = self._dead_since.setdefault(marker, now)
                    if now - first >= grace:
                        doomed.append(info.key)
                        sizes += info.size
                if doomed and not dry_run:
                    store.delete_many(doomed)
                    report.deleted += len(doomed)
                    report.deleted_bytes += sizes
                    for key in doomed:
                        self._dead_since.pop((volume, key), None)
            for marker in set(self._dead_since) - seen:
                del self._dead_since[marker]  # alive again, or gone
            if self.sources.leading_position() is not None:  # a deposed leader's view may be stale
                cleaned = clean_journal(self.sources.meta_store, self.sources.keys,
                                        self.sources.config.cluster_snapshot_pitr_window_seconds,
                                        live.snapshot_positions, dry_run)
                report.journal_entries_deleted, report.images_deleted = cleaned.entries, cleaned.images
        report.seconds = time.perf_counter() - started
        if report.deleted:
            log.info("vacuum deleted %d objects (%d bytes) of %d examined", report.deleted, report.deleted_bytes,
                     report.examined)
        if not dry_run and (report.journal_entries_deleted or report.images_deleted):
            log.info("vacuum deleted %d journal entries and %d checkpoint images no reader needs",
                     report.journal_entries_deleted, report.images_deleted)
        return report
