"""Cluster snapshots: a checkpoint image, a manifest of every object it needs, and a done marker."""
