"""query statements."""
