"""console (placeholder)."""
