"""show statements."""
