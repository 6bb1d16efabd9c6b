"""dml statements."""
