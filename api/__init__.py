"""hsba api."""
