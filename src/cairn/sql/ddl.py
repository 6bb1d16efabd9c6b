"""ddl statements."""
