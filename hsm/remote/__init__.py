"""Remote-signing providers: keys held outside hsba.

- :mod:`hsm.remote.csc`: a CSC API service (v1 or v2 paths) through pyHanko's
  ``CSCSigner`` with an authorisation manager that sends the signer's PIN and OTP.
"""
