"""The compute node process (`cairn cn`): scans, writes and compactions over Arrow Flight."""
