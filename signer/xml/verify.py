"""Strict verification of an enveloped XML signature (XML 130 claim, HoSoBenhAn export).

Only the shape hsba and the format use is accepted: exactly one ``ds:Signature``,
in the expected place, whose first reference covers the WHOLE document (``URI=""``
with the enveloped-signature or ``not(ancestor-or-self::ds:Signature)``
transform) and whose other references point only to the signature's own XAdES
``SignedProperties``. What is verified is therefore exactly what a reader of the
file sees: signature-wrapping tricks (a second signature, a reference to a moved
copy, an ``Id`` elsewhere) are refused. Verdicts use the PDF vocabulary.

A XAdES-T signature time-stamp (``timestamp.py``) must stamp this very SignatureValue
and verify (token signature, TSA certificate path); the signer's certificate is then
judged at the time-stamp's time. XAdES-LT values (``ltv.py``: ``CertificateValues``,
``RevocationValues``) are then used for both paths, with revocation data required where
a certificate declares an OCSP responder or CRL distribution point: offline, only the
embedded data counts, so an LT file validates with no network while a T file offline is
checked without revocation data (soft-fail). Embedded certificates are never trust
anchors.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from signer.xml._sync import run_sync
from signer.xml.ltv import ValidationValues, read_validation_values
from signer.xml.timestamp import (
    SignatureTimestamp,
    TimestampRefused,
    check_signature_timestamp,
    find_signature_timestamps,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
NS = {"ds": DS, "xades": XADES}
C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": (False, False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": (False, True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": (True, False),
}
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
SIG_ALGOS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384),
}
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XPATH_EXCLUDE_SIG = "not(ancestor-or-self::ds:Signature)"

MESSAGES = {
    "ok": ("Chữ ký hợp lệ, nội dung không bị thay đổi.", "Signature valid, content unchanged."),
    "no_signature": ("Tệp không có chữ ký XML.", "The file has no XML signature."),
    "parse": ("Tệp XML không đọc được.", "The XML file cannot be parsed."),
    "digest": ("Nội dung đã bị thay đổi sau khi ký (giá trị băm không khớp).",
               "The content was changed after signing (digest mismatch)."),
    "signature": ("Giá trị chữ ký không đúng với chứng thư số.",
                  "The signature value does not verify with the certificate."),
    "structure": ("Cấu trúc chữ ký không được chấp nhận: ", "Signature structure refused: "),
    "algorithm": ("Thuật toán không được phép theo TT 15/2025/TT-BKHCN: ",
                  "Algorithm not allowed by TT 15/2025/TT-BKHCN: "),
    "signing_cert": ("Thuộc tính SigningCertificate không khớp chứng thư ký.",
                     "The SigningCertificate property does not match the signer's certificate."),
    "untrusted": ("Không xây dựng được đường dẫn chứng thư tới điểm tin cậy: ",
                  "No certificate path to a trust anchor: "),
    "timestamp_imprint": ("Dấu thời gian của chữ ký không khớp giá trị chữ ký (SignatureValue).",
                          "The signature time-stamp does not stamp this SignatureValue."),
    "timestamp_signature": ("Dấu thời gian của chữ ký bị hỏng hoặc chữ ký của TSA không đúng.",
                            "The signature time-stamp is damaged or its TSA signature fails."),
    "revoked": ("Chứng thư số của người ký đã bị thu hồi trước thời điểm ký: ",
                "The signer's certificate was revoked before the signing time: "),
    "timestamp_revoked": ("Chứng thư số của TSA đã bị thu hồi trước thời điểm của dấu thời gian.",
                          "The TSA's certificate was revoked before the time-stamp's time."),
    "timestamp_untrusted": ("Không xây dựng được đường dẫn chứng thư của TSA tới điểm tin cậy: ",
                            "No certificate path from the TSA to a trust anchor: "),
}


@dataclass(frozen=True)
class XmlVerification:
    verdict: str
    """VALID, MODIFIED_AFTER_SIGNING, INVALID, INDETERMINATE, NO_SIGNATURE or PARSE_ERROR."""
    message_vi: str
    message_en: str
    signer_subject: str = ""
    signer_serial: str = ""
    issuer: str = ""
    signing_time: str = ""
    algorithm: str = ""
    trusted: bool = False
    content_sha256: str = ""
    """sha256 of the signed content (the document without its signature)."""
    details: list[str] = field(default_factory=list)
    level: str = ""
    """XAdES-LT (time-stamp + embedded certificate and revocation values), XAdES-T (with
    a verified signature time-stamp), XAdES-BES or XMLDSig."""
    timestamp_time: str = ""
    """ISO 8601 UTC time of the signature time-stamp (XAdES-T), the proven signing time."""
    timestamp_authority: str = ""
    """Subject of the TSA's certificate."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Refused(Exception):
    def __init__(self, verdict: str, key: str, extra: str = "") -> None:
        super().__init__(key)
        self.verdict, self.key, self.extra = verdict, key, extra


def _result(verdict: str, key: str, extra: str = "", **kw: Any) -> XmlVerification:
    vi, en = MESSAGES[key]
    return XmlVerification(verdict, vi + extra, en + extra, **kw)


def _c14n(node: Any, algorithm: str) -> bytes:
    if algorithm not in C14N:
        raise _Refused("INVALID", "algorithm", f"c14n {algorithm}")
    exclusive, comments = C14N[algorithm]
    return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments)


def _without_signature(root: Any, sig: Any) -> Any:
    """A copy of the document with the signature element removed (its tail kept)."""
    doc = copy.deepcopy(root.getroottree())
    path = root.getroottree().getelementpath(sig)
    victim = doc.getroot().find(path) if path != "." else None
    if victim is None:
        raise _Refused("INVALID", "structure", "signature is the document element")
    parent, tail = victim.getparent(), victim.tail
    prev = victim.getprevious()
    parent.remove(victim)
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    return doc


def _digest(data: bytes, algorithm: str) -> bytes:
    if algorithm not in DIGESTS:
        raise _Refused("INVALID", "algorithm", f"digest {algorithm}")
    h = hashes.Hash(DIGESTS[algorithm]())
    h.update(data)
    return h.finalize()


def _check_references(root: Any, sig: Any, signed_info: Any) -> str:
    refs = signed_info.findall("ds:Reference", NS)
    if not refs:
        raise _Refused("INVALID", "structure", "no Reference")
    whole_doc_digest = ""
    for ref in refs:
        uri = ref.get("URI")
        transforms = [t.get("Algorithm") for t in ref.findall("ds:Transforms/ds:Transform", NS)]
        dm = ref.find("ds:DigestMethod", NS)
        dv = ref.findtext("ds:DigestValue", namespaces=NS) or ""
        algorithm = dm.get("Algorithm") if dm is not None else ""
        if uri == "":
            xpaths = [x.text for x in ref.findall("ds:Transforms/ds:Transform/ds:XPath", NS)]
            ok = transforms == [ENVELOPED] or (transforms == [XPATH] and xpaths == [XPATH_EXCLUDE_SIG])
            if not ok or whole_doc_digest:
                raise _Refused("INVALID", "structure", "whole-document reference transforms")
            content = _c14n(_without_signature(root, sig), next(iter(C14N)))
            if _digest(content, algorithm) != base64.b64decode(dv):
                raise _Refused("MODIFIED_AFTER_SIGNING", "digest")
            whole_doc_digest = hashlib.sha256(content).hexdigest()
        elif uri and uri.startswith("#"):
            target = sig.xpath(".//xades:SignedProperties[@Id=$i]", namespaces=NS, i=uri[1:])
            everywhere = root.xpath("//*[@Id=$i or @ID=$i or @id=$i]", i=uri[1:])
            if len(target) != 1 or len(everywhere) != 1 or transforms:
                raise _Refused("INVALID", "structure", f"reference {uri}")
            if _digest(_c14n(target[0], next(iter(C14N))), algorithm) != base64.b64decode(dv):
                raise _Refused("MODIFIED_AFTER_SIGNING", "digest")
        else:
            raise _Refused("INVALID", "structure", f"reference URI {uri!r}")
    if not whole_doc_digest:
        raise _Refused("INVALID", "structure", "no reference covers the whole document")
    return whole_doc_digest


def _verify_value(signed_info: Any, sig: Any, cert: x509.Certificate) -> str:
    c14n_alg = signed_info.find("ds:CanonicalizationMethod", NS).get("Algorithm")
    method = signed_info.find("ds:SignatureMethod", NS).get("Algorithm")
    if method not in SIG_ALGOS:
        raise _Refused("INVALID", "algorithm", method)
    kind, digest = SIG_ALGOS[method]
    value = base64.b64decode("".join((sig.findtext("ds:SignatureValue", namespaces=NS) or "").split()))
    data = _c14n(signed_info, c14n_alg)
    key = cert.public_key()
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise _Refused("INVALID", "algorithm", f"RSA {key.key_size}")
            key.verify(value, data, padding.PKCS1v15(), digest())
        elif kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            if key.key_size < 256:
                raise _Refused("INVALID", "algorithm", f"EC {key.key_size}")
            half = len(value) // 2
            der = encode_dss_signature(int.from_bytes(value[:half], "big"),
                                       int.from_bytes(value[half:], "big"))
            key.verify(der, data, ec.ECDSA(digest()))
        else:
            raise _Refused("INVALID", "algorithm", "key type does not match SignatureMethod")
    except InvalidSignature as e:
        raise _Refused("INVALID", "signature") from e
    return method.rsplit("#", 1)[-1]


def _check_signing_certificate(sig: Any, cert_der: bytes) -> None:
    digests = sig.findall(".//xades:SigningCertificate/xades:Cert/xades:CertDigest", NS)
    if not digests:
        return  # plain XML-DSig (no XAdES properties): nothing to bind
    for d in digests:
        alg = d.find("ds:DigestMethod", NS).get("Algorithm")
        if _digest(cert_der, alg) == base64.b64decode(d.findtext("ds:DigestValue", namespaces=NS)):
            return
    raise _Refused("INVALID", "signing_cert")


def _trust(cert_der: bytes, chain: list[bytes], trust_roots: list[bytes], at: datetime,
           offline: bool, values: ValidationValues | None = None) -> tuple[str, str]:
    """``("trusted" | "revoked" | "untrusted", why)`` for the signer's certificate at ``at``;
    with XAdES-LT ``values`` their certificates and revocation data are used, required
    where declared (``hard-fail``), and may postdate ``at`` (retroactive revocation data)."""
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, RevokedError

    if not trust_roots:
        return "untrusted", "no trust anchors configured"
    embedded = values.context_kwargs() if values is not None else {"other_certs": []}
    ctx = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(r) for r in trust_roots],
        **{**embedded, "other_certs": [*(asn1_x509.Certificate.load(c) for c in chain),
                                       *embedded["other_certs"]]},
        moment=at, allow_fetching=not offline,
        revocation_mode="soft-fail" if offline and values is None else "hard-fail",
        retroactive_revinfo=values is not None,
    )
    validator = CertificateValidator(asn1_x509.Certificate.load(cert_der), validation_context=ctx)
    try:
        run_sync(lambda: validator.async_validate_usage(set(), extended_optional=True))
    except RevokedError as e:
        return "revoked", str(e)
    except (PathBuildingError, PathValidationError) as e:
        return "untrusted", str(e)
    except Exception as e:  # noqa: BLE001 - revocation fetch failures and the like
        return "untrusted", f"{type(e).__name__}: {e}"
    return "trusted", ""


def verify_xml(
    xml: bytes,
    *,
    trust_roots: list[bytes] = (),  # type: ignore[assignment]
    placement: str = "CHUKYDONVI",
    at: datetime | None = None,
    offline: bool = True,
) -> XmlVerification:
    """Verify ``xml``; ``trust_roots`` are DER certificates; ``placement`` as for signing."""
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False))
    except (etree.XMLSyntaxError, ValueError) as e:
        return _result("PARSE_ERROR", "parse", f" ({e})")
    sigs = root.findall(".//ds:Signature", NS)
    if not sigs:
        return _result("NO_SIGNATURE", "no_signature")
    try:
        if len(sigs) != 1:
            raise _Refused("INVALID", "structure", f"{len(sigs)} signatures")
        sig = sigs[0]
        parent = sig.getparent()
        expected_parent = root.find(placement) if placement else root
        if parent is not expected_parent:
            raise _Refused("INVALID", "structure", f"signature not in {placement or 'root'}")
        signed_info = sig.find("ds:SignedInfo", NS)
        cert_b64 = sig.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
        if signed_info is None or not cert_b64:
            raise _Refused("INVALID", "structure", "SignedInfo or certificate missing")
        cert_der = base64.b64decode("".join(cert_b64.split()))
        cert = x509.load_der_x509_certificate(cert_der)
        chain = [base64.b64decode("".join((c.text or "").split())) for c in
                 sig.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)[1:]]
        algorithm = _verify_value(signed_info, sig, cert)
        content_sha = _check_references(root, sig, signed_info)
        _check_signing_certificate(sig, cert_der)
        signing_time = sig.findtext(".//xades:SigningTime", namespaces=NS) or ""
        values = read_validation_values(sig)
        stamps = [check_signature_timestamp(sig, s, trust_roots=list(trust_roots),
                                            other_certs=[cert_der, *chain], at=at,
                                            offline=offline, values=values)
                  for s in find_signature_timestamps(sig)]
        proven = min((s.time for s in stamps if s.trusted), default=None)
        moment = at or proven or _parse_time(signing_time) or datetime.now(UTC)
        state, why = _trust(cert_der, chain, list(trust_roots), moment, offline, values)
    except (_Refused, TimestampRefused) as r:
        return _result(r.verdict, r.key, r.extra)
    except Exception as e:  # noqa: BLE001 - hostile input must never escape as a traceback
        return _result("INVALID", "structure", f"{type(e).__name__}: {e}")
    common: dict[str, Any] = {
        "signer_subject": cert.subject.rfc4514_string(), "signer_serial": format(cert.serial_number, "x"),
        "issuer": cert.issuer.rfc4514_string(), "signing_time": signing_time, "algorithm": algorithm,
        "trusted": state == "trusted", "content_sha256": content_sha,
        **_level(sig, stamps, values),
    }
    if state == "revoked":
        return _result("INVALID", "revoked", why, **common)
    if state != "trusted":
        return _result("INDETERMINATE", "untrusted", why, **common)
    untrusted = [s for s in stamps if not s.trusted]
    if untrusted:
        return _result("INDETERMINATE", "timestamp_untrusted", untrusted[0].why_untrusted,
                       **{**common, "trusted": False})
    return _result("VALID", "ok", **common)


def _level(sig: Any, stamps: list[SignatureTimestamp],
           values: ValidationValues | None) -> dict[str, str]:
    if stamps:
        first = min(stamps, key=lambda s: s.time)
        level = "XAdES-LT" if values is not None and values.certs and (
            values.ocsps or values.crls) else "XAdES-T"
        return {"level": level, "timestamp_time": first.time.isoformat(),
                "timestamp_authority": first.authority}
    if sig.find("ds:Object/xades:QualifyingProperties", NS) is not None:
        return {"level": "XAdES-BES"}
    return {"level": "XMLDSig"}


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
