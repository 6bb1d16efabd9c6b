"""Cluster restore: from a snapshot (and optionally a point in time) to a new incarnation that serves."""
