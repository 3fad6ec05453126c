"""hsba policies."""
