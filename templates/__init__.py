"""hsba templates."""
