"""XAdES-T: the signature time-stamp of an XML signature (ETSI EN 319 132-1, 5.3.2).

A ``xades:SignatureTimeStamp`` in ``UnsignedSignatureProperties`` carries an RFC 3161
token whose message imprint is the digest of the ``ds:SignatureValue`` element,
canonicalised with the ``ds:CanonicalizationMethod`` written inside the time-stamp
(exclusive c14n here: the value does not depend on the namespaces of the element the
signature sits in). It proves the signature existed at the TSA's time, so the signer's
certificate is judged at that time, not at the claimed ``SigningTime``.

Tokens come from hsba's TSA client (``signer.timestamps``: failover between TSAs and
the imprint check); they are checked with pyHanko's own time-stamp token validation
against the caller's trust anchors.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from lxml import etree

from core.errors import ConfigurationError, HsbaError, UnavailableError
from signer.xml._sync import run_sync

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
NS = {"ds": DS, "xades": XADES}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
INCLUSIVE_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
DER_ENCODING = "http://uri.etsi.org/01903/v1.2.2#DER"
C14N = {
    INCLUSIVE_C14N: (False, False),
    INCLUSIVE_C14N + "#WithComments": (False, True),
    EXC_C14N: (True, False),
}
IMPRINT_DIGESTS = ("sha256", "sha384", "sha512")
UNSIGNED_PATH = ("ds:Object/xades:QualifyingProperties/xades:UnsignedProperties/"
                 "xades:UnsignedSignatureProperties")


class TimestampRefused(Exception):
    """A signature time-stamp that is not acceptable; ``key`` names the reason."""

    def __init__(self, verdict: str, key: str, extra: str = "") -> None:
        super().__init__(key)
        self.verdict, self.key, self.extra = verdict, key, extra


@dataclass(frozen=True)
class SignatureTimestamp:
    """A signature time-stamp that verified: intact, over this SignatureValue, signed."""

    time: datetime
    """The TSA's time (``genTime``), UTC."""
    authority: str
    """Subject of the TSA's certificate (RFC 4514)."""
    trusted: bool
    """Whether the TSA's certificate has a path to one of the trust anchors."""
    why_untrusted: str = ""


def signature_value_c14n(sig: Any, algorithm: str) -> bytes:
    """The canonical ``ds:SignatureValue`` element of ``sig``: what the token stamps."""
    values = sig.findall("ds:SignatureValue", NS)
    if len(values) != 1:
        raise TimestampRefused("INVALID", "structure", "SignatureValue")
    if algorithm not in C14N:
        raise TimestampRefused("INVALID", "algorithm", f"c14n {algorithm}")
    exclusive, comments = C14N[algorithm]
    return etree.tostring(values[0], method="c14n", exclusive=exclusive, with_comments=comments)


def add_signature_timestamp(sig: Any, timestamper: Any, *,
                            md_algorithm: str = "sha256") -> cms.ContentInfo:
    """Stamp ``sig`` (a ``ds:Signature`` with XAdES ``QualifyingProperties``) in place;
    returns the token (XAdES-LT then embeds its TSA's path and revocation data).

    ``timestamper`` is a pyHanko ``TimeStamper`` (``signer.timestamps.timestamper_for``).
    When no TSA answers, raises ``UnavailableError xml.tsa_unavailable`` and ``sig`` is
    left as it was.
    """
    props = sig.find("ds:Object/xades:QualifyingProperties", NS)
    if props is None:
        raise ConfigurationError("xml.no_qualifying_properties",
                                 "Chữ ký XML không có QualifyingProperties (XAdES).",
                                 "The XML signature has no XAdES QualifyingProperties.")
    digest = hashlib.new(md_algorithm, signature_value_c14n(sig, EXC_C14N)).digest()
    try:
        token: cms.ContentInfo = run_sync(
            lambda: timestamper.async_timestamp(digest, md_algorithm))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # a TSA failure of any kind: refuse, nothing made
        details = e.details if isinstance(e, HsbaError) else [f"{type(e).__name__}: {e}"]
        raise UnavailableError(
            "xml.tsa_unavailable",
            "Không máy chủ cấp dấu thời gian (TSA) nào trả lời; tệp XML chưa được ký.",
            "No time-stamping authority (TSA) answered; the XML file was not signed.",
            details=details) from e
    unsigned = props.find("xades:UnsignedProperties", NS)
    if unsigned is None:
        unsigned = etree.SubElement(props, f"{{{XADES}}}UnsignedProperties")
    usp = unsigned.find("xades:UnsignedSignatureProperties", NS)
    if usp is None:
        usp = etree.SubElement(unsigned, f"{{{XADES}}}UnsignedSignatureProperties")
    stamp = etree.SubElement(usp, f"{{{XADES}}}SignatureTimeStamp")
    if sig.get("Id"):
        stamp.set("Id", f"SignatureTimeStamp-{sig.get('Id')}")
    etree.SubElement(stamp, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    encapsulated = etree.SubElement(stamp, f"{{{XADES}}}EncapsulatedTimeStamp",
                                    Encoding=DER_ENCODING)
    encapsulated.text = base64.b64encode(token.dump()).decode("ascii")
    return token


def find_signature_timestamps(sig: Any) -> list[Any]:
    """The ``SignatureTimeStamp`` elements of ``sig``, refusing any outside their place."""
    placed = sig.xpath(UNSIGNED_PATH + "/xades:SignatureTimeStamp", namespaces=NS)
    anywhere = sig.xpath(".//xades:SignatureTimeStamp", namespaces=NS)
    if len(anywhere) != len(placed):
        raise TimestampRefused("INVALID", "structure", "SignatureTimeStamp out of place")
    return list(placed)


def check_signature_timestamp(
    sig: Any,
    stamp: Any,
    *,
    trust_roots: Sequence[bytes],
    other_certs: Sequence[bytes] = (),
    at: datetime | None = None,
    offline: bool = True,
    values: Any = None,
) -> SignatureTimestamp:
    """Verify one ``SignatureTimeStamp`` of ``sig``: shape, message imprint, token
    signature (pyHanko) and the TSA's certificate path (pyhanko-certvalidator).

    ``values`` (``ltv.ValidationValues``, XAdES-LT): the TSA's path is then judged at the
    token's own time with the embedded certificates and revocation data (revocation
    required where the certificates declare it; no fetching when ``offline``)."""
    allowed = {f"{{{DS}}}CanonicalizationMethod", f"{{{XADES}}}EncapsulatedTimeStamp"}
    if any(child.tag not in allowed for child in stamp):  # Include, ReferenceInfo, XML tokens
        raise TimestampRefused("INVALID", "structure", "SignatureTimeStamp content")
    methods = stamp.findall("ds:CanonicalizationMethod", NS)
    tokens = stamp.findall("xades:EncapsulatedTimeStamp", NS)
    if len(methods) > 1 or len(tokens) != 1:
        raise TimestampRefused("INVALID", "structure", "SignatureTimeStamp content")
    encoding = tokens[0].get("Encoding")
    if encoding not in (None, DER_ENCODING):
        raise TimestampRefused("INVALID", "structure", f"time-stamp encoding {encoding}")
    c14n_alg = methods[0].get("Algorithm") if methods else INCLUSIVE_C14N
    stamped = signature_value_c14n(sig, c14n_alg or "")
    try:
        token = cms.ContentInfo.load(base64.b64decode("".join((tokens[0].text or "").split()),
                                                      validate=True), strict=True)
        if token["content_type"].native != "signed_data":
            raise ValueError("not a SignedData")
        signed_data: cms.SignedData = token["content"]
        tst_info = signed_data["encap_content_info"]["content"].parsed
        imprint = tst_info["message_imprint"]
        algo = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
    except Exception as e:  # hostile bytes: a clear verdict, no traceback
        raise TimestampRefused("INVALID", "timestamp_signature",
                               f" ({type(e).__name__})") from e
    if algo not in IMPRINT_DIGESTS:
        raise TimestampRefused("INVALID", "algorithm", f"time-stamp imprint {algo}")
    if hashlib.new(algo, stamped).digest() != hashed:
        raise TimestampRefused("INVALID", "timestamp_imprint")
    if values is not None:
        at = at or tst_info["gen_time"].native
    status = _validate_token(signed_data, stamped, trust_roots, other_certs, at, offline,
                             values)
    if not (status.intact and status.valid):
        raise TimestampRefused("INVALID", "timestamp_signature")
    if status.revoked:
        raise TimestampRefused("INVALID", "timestamp_revoked")
    tsa_cert = status.signing_cert
    authority = (x509.load_der_x509_certificate(tsa_cert.dump()).subject.rfc4514_string()
                 if tsa_cert is not None else "")
    why = "" if status.trusted else _trust_problem(status, trust_roots)
    return SignatureTimestamp(status.timestamp.astimezone(UTC), authority,
                              bool(status.trusted), why)


def _validate_token(signed_data: cms.SignedData, stamped: bytes, trust_roots: Sequence[bytes],
                    other_certs: Sequence[bytes], at: datetime | None, offline: bool,
                    values: Any = None) -> Any:
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    embedded = values.context_kwargs() if values is not None else {"other_certs": []}
    ctx = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(r) for r in trust_roots],
        **{**embedded, "other_certs": [*(asn1_x509.Certificate.load(c) for c in other_certs),
                                       *embedded["other_certs"]]},
        moment=at or datetime.now(UTC), allow_fetching=not offline,
        revocation_mode="soft-fail" if offline and values is None else "hard-fail",
        retroactive_revinfo=values is not None,
    )
    try:
        kwargs = run_sync(lambda: validate_tst_signed_data(
            signed_data, ctx, lambda algo: hashlib.new(algo, stamped).digest()))
    except Exception as e:  # pyHanko refused a malformed token
        raise TimestampRefused("INVALID", "timestamp_signature",
                               f" ({type(e).__name__}: {e})") from e
    return TimestampSignatureStatus(**kwargs)


def _trust_problem(status: Any, trust_roots: Sequence[bytes]) -> str:
    if not trust_roots:
        return "no trust anchors configured"
    indication = getattr(status, "trust_problem_indic", None)
    return str(getattr(indication, "name", indication) or "no path to a trust anchor")
