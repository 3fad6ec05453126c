"""hsba signer."""
