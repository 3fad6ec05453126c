"""Remote-signing providers: keys held outside hsba.

- :mod:`hsm.remote.csc`: a CSC API service (v1 or v2 paths) through pyHanko's
  ``CSCSigner`` (``HsbaCscSigner``) with an authorisation manager that sends the
  signer's PIN and OTP.
- :mod:`hsm.remote.async_provider`: app-confirmed providers (hash only, the signer
  confirms in a phone app) with pyHanko's interrupted signing; clients
  :mod:`hsm.remote.smartca` (VNPT SmartCA shape) and :mod:`hsm.remote.mysign` (Viettel
  MySign shape); pending state in :mod:`hsm.remote.pending`; the polling job in
  :mod:`hsm.remote.polling`.
"""
