"""hsba signer: PAdES signatures on clinical forms, with pyHanko's own mechanisms.

- ``signer.sign``: one signature (B-B, B-T, B-LT, B-LTA) into a named field;
  ``signer.request.SignRequest`` describes it.
- ``signer.revocation``: ``RevocationSource`` (one validation context per
  signature), ``OnlineRevocationSource``, the pre-signing status check.
- ``signer.timestamps``: RFC 3161 with TSA failover.
- ``signer.ltv``: extension to B-LTA and archival re-timestamping.
- ``signer.patient``: a patient's confirmation sealed by the hospital.
- ``signer.merge``: concurrent signers on one document; ``signer.batch``: one
  authorisation, many documents.
- ``signer.verify`` (verification) and ``signer.xml`` (XML exports) are separate.
"""
