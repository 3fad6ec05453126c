"""hsba workflow."""
