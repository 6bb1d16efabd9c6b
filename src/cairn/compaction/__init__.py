"""Compaction: merging a tablet's small rowsets into one, as a new partition version."""
