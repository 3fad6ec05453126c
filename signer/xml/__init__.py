"""XML signatures (enveloped XAdES-T, or XAdES-BES when asked): see sign.py, timestamp.py and
verify.py."""
