"""XML signatures (XAdES-BES, enveloped): see sign.py and verify.py."""
