"""hsba emr."""
