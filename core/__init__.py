"""Shared foundations: settings, errors, time helpers. Imports nothing of hsba."""
