"""Verification of signed PDFs for auditors (issue 5).

``verify_pdf(pdf, ...)`` answers for one file with a :class:`VerificationReport`:
a verdict, and per signature who signed, when (and how that time is proven),
what changed after, the trust path, the PAdES level and the ETSI indication.
The work runs in a bounded worker process (10 s, 512 MB) so hostile files end in
PARSE_ERROR instead of hurting the service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from signer.verify.model import (
    PASSING_VERDICTS,
    CertificateInfo,
    Finding,
    PdfaStatus,
    SignatureReport,
    VerificationReport,
)

__all__ = [
    "PASSING_VERDICTS",
    "CertificateInfo",
    "Finding",
    "PdfaStatus",
    "SignatureReport",
    "VerificationReport",
    "verify_pdf",
]


def _trust_items(trust_roots: Iterable[Any], trust_list: Any) -> list[Any]:
    items = list(trust_roots or ())
    if trust_list is not None:
        for attr in ("certificates", "trust_roots", "anchors"):
            if hasattr(trust_list, attr):
                trust_list = getattr(trust_list, attr)
                break
        items.extend(trust_list() if callable(trust_list) else trust_list)
    return items


def verify_pdf(pdf: bytes, *, trust_roots: Iterable[Any] = (), trust_list: Any = None,
               at: datetime | None = None, offline: bool = False, lang: str = "vi",
               etsi_xml: bool = False, isolated: bool = True) -> VerificationReport:
    """Verify one PDF.

    ``trust_roots``: certificates (asn1crypto objects, PEM/DER bytes or file
    paths); ``trust_list``: the policy's trust list (an iterable of the same, or
    an object with ``.certificates``); ``at``: validate as of that time;
    ``offline``: use only validation data inside the file (DSS); ``etsi_xml``:
    also produce the ETSI TS 119 102-2 report (``report.etsi_xml``);
    ``isolated=False`` runs in this process (trusted input only, e.g. benchmarks).
    """
    from signer.verify.trust import load_trust_roots

    roots = load_trust_roots(_trust_items(trust_roots, trust_list))
    lang = "en" if lang == "en" else "vi"
    if not isolated:
        from signer.verify.engine import analyse

        return analyse(bytes(pdf), trust_roots=roots, at=at, offline=offline, lang=lang,
                       want_etsi=etsi_xml)
    from signer.verify.sandbox import run_bounded

    return run_bounded(bytes(pdf), roots_der=[c.dump() for c in roots], at=at,
                       offline=offline, lang=lang, want_etsi=etsi_xml)
