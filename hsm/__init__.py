"""hsba hsm."""
