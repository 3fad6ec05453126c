"""XML signatures (enveloped XAdES-LT, XAdES-T or XAdES-BES): see sign.py, timestamp.py,
ltv.py and verify.py."""
