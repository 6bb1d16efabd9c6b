"""volumes statements."""
