"""Queries: binding Cairn tables to DuckDB at their visible versions, and running SELECT."""
