"""hsba archive."""
