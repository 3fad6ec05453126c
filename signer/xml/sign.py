"""Enveloped XAdES signing (XAdES-LT, XAdES-T or XAdES-BES) with endesive, the key
staying in hsba's key custody.

endesive's ``BES.enveloped`` builds the signature and calls back for the raw
signature value; the callback hands the canonical ``SignedInfo`` to the
pyHanko ``Signer`` from ``hsm/`` (software key, PKCS#11 token or remote
provider), so no private key is ever read here. The signature is then moved
into the element the format expects (``CHUKYDONVI`` for XML 130): the
reference's XPath transform excludes the signature wherever it sits, so the
digest computed by endesive over the document with that element empty stays
valid. With a TSA, the signature is then time-stamped (XAdES-T, ``timestamp.py``);
with a revocation source too, the seal's and the TSA's certificate paths and their
OCSP responses/CRLs are embedded (XAdES-LT, ``ltv.py``).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from core.errors import InvalidInput, SigningError
from signer.xml._sync import run_sync
from signer.xml.timestamp import add_signature_timestamp

BES = "XAdES-BES"
T = "XAdES-T"
LT = "XAdES-LT"

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SIG_METHODS = {
    ("rsa", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    ("rsa", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    ("rsa", "sha512"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    ("ec", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    ("ec", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
}
_endesive_lock = threading.Lock()


def _key_type(cert: asn1_x509.Certificate) -> tuple[str, int]:
    algo = cert.public_key.algorithm
    if algo == "rsa":
        return "rsa", cert.public_key.bit_size
    if algo == "ec":
        return "ec", cert.public_key.bit_size
    raise SigningError("xml.unsupported_key", f"Loại khoá {algo} không được hỗ trợ.",
                       f"Key type {algo} is not supported.")


def _ec_raw(der: bytes, bits: int) -> bytes:
    """XML-DSig wants ECDSA as r‖s, each padded to the curve size (RFC 4050)."""
    r, s = decode_dss_signature(der)
    size = (bits + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _chain(signer: Any, cert: asn1_x509.Certificate) -> list[asn1_x509.Certificate]:
    registry = getattr(signer, "cert_registry", None) or ()
    return [c for c in registry if c.dump() != cert.dump() and c.subject != c.issuer]


def sign_enveloped(
    xml: bytes,
    *,
    signer: Any,
    placement: str = "CHUKYDONVI",
    digest: str = "sha256",
    timestampers: Sequence[Any] = (),
    level: str | None = None,
    revocation: Any = None,
) -> bytes:
    """Sign ``xml`` with a pyHanko ``Signer`` and put the signature under ``placement``.

    ``placement`` is the tag of a direct child of the root that must exist and be
    empty (XML 130: ``CHUKYDONVI``); ``""`` appends the signature to the root
    (``HoSoBenhAn``). Refuses keys weaker than TT 15/2025/TT-BKHCN allows.

    ``level``: ``"XAdES-LT"`` (XAdES-T plus the certificates and revocation data of the
    seal's and the TSA's paths, gathered through ``revocation``, a
    ``signer.revocation.RevocationSource``: ``ltv.py``), ``"XAdES-T"`` (a signature
    time-stamp from ``timestampers``, pyHanko ``TimeStamper``s tried in order) or
    ``"XAdES-BES"``; ``None`` means XAdES-LT when ``timestampers`` and ``revocation``
    are given, XAdES-T with ``timestampers`` only, else XAdES-BES. XAdES-T/LT with no
    TSA configured, or no TSA answering, XAdES-LT without a revocation source, a
    revoked or unverifiable seal or TSA certificate: refused, nothing is returned.
    """
    from endesive.xades import bes

    from signer.timestamps import timestamper_for
    from signer.xml.ltv import ValidationDataCollector, add_validation_values

    level = level or ((LT if revocation is not None else T) if timestampers else BES)
    if level not in (BES, T, LT):
        raise InvalidInput("xml.level", f"Mức chữ ký XML {level} không được hỗ trợ.",
                           f"XML signature level {level} is not supported.")
    timestamper = timestamper_for(timestampers) if level in (T, LT) else None
    if level in (T, LT) and timestamper is None:
        raise SigningError("xml.timestamp_required",
                           f"Mức {level} cần dấu thời gian nhưng chưa cấu hình TSA.",
                           f"{level} needs a time-stamp but no TSA is configured.")
    if level == LT and revocation is None:
        raise SigningError("xml.revocation_required",
                           "Mức XAdES-LT cần nguồn dữ liệu thu hồi (OCSP/CRL) nhưng chưa có.",
                           "XAdES-LT needs a revocation data source (OCSP/CRL); none is given.")
    cert: asn1_x509.Certificate = signer.signing_cert
    if cert is None:
        raise SigningError("xml.no_certificate", "Khoá ký không có chứng thư số.",
                           "The signing key has no certificate.")
    kind, bits = _key_type(cert)
    if (kind == "rsa" and bits < 2048) or (kind == "ec" and bits < 256):
        raise SigningError(
            "xml.weak_key",
            f"Khoá {kind.upper()} {bits} bit yếu hơn mức tối thiểu của TT 15/2025/TT-BKHCN.",
            f"{kind.upper()} {bits}-bit key is weaker than TT 15/2025/TT-BKHCN allows.")
    if (kind, digest) not in SIG_METHODS:
        raise SigningError("xml.weak_digest", f"Thuật toán băm {digest} không được phép.",
                           f"Digest {digest} is not allowed.")
    try:
        tree = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False,
                                                            no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as e:
        raise InvalidInput("xml.malformed", "Tệp XML không đọc được.",
                           "The XML file cannot be parsed.", details=[str(e)]) from e
    if tree.findall(f".//{{{DS_NS}}}Signature"):
        raise SigningError("xml.already_signed", "Tệp XML đã có chữ ký.",
                           "The XML file is already signed.")
    target = None
    if placement:
        target = tree.find(placement)
        if target is None or len(target) or (target.text or "").strip():
            raise InvalidInput(
                "xml.no_signature_slot",
                f"Không có phần tử {placement} trống để đặt chữ ký.",
                f"No empty {placement} element to hold the signature.")

    collector = None
    if level == LT:  # a revoked or unverifiable seal is refused before anything is signed
        collector = ValidationDataCollector(revocation)
        collector.check_signer(cert, _chain(signer, cert))

    def signproc(data: bytes, _hashalgo: str) -> bytes:
        raw = run_sync(lambda: signer.async_sign_raw(data, digest))
        return _ec_raw(raw, bits) if kind == "ec" else raw

    cert_der = cert.dump()
    crypto_cert = x509.load_der_x509_certificate(cert_der)
    source = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    with _endesive_lock:
        # endesive describes every document with a Certum (Polish CA) ObjectIdentifier;
        # that element is optional in XAdES (DataObjectFormat = Description?,
        # ObjectIdentifier?, MimeType), so it is left out for the hospital's files.
        original = bes.ObjectIdentifier
        bes.ObjectIdentifier = lambda *a, **k: ""
        try:
            signed = bes.BES().enveloped(source, crypto_cert, cert_der, signproc, None, None,
                                         signaturemethod=SIG_METHODS[(kind, digest)])
        finally:
            bes.ObjectIdentifier = original
    root = signed.getroot()
    sig = root.find(f"{{{DS_NS}}}Signature")
    # The chain (issuing CAs) goes beside the signer's certificate in KeyInfo so a
    # verifier can build the path; KeyInfo is not among the signed references.
    x509_data = sig.find(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data") if sig is not None else None
    if x509_data is not None:
        for extra in _chain(signer, cert):
            el = etree.SubElement(x509_data, f"{{{DS_NS}}}X509Certificate")
            el.text = base64.b64encode(extra.dump()).decode("ascii")
    if target is not None and sig is not None:
        slot = root.find(placement)
        root.remove(sig)
        slot.append(sig)
    if timestamper is not None and sig is not None:
        token = add_signature_timestamp(sig, timestamper, md_algorithm=digest)
        if collector is not None:
            collector.check_timestamp_authority(token)
            add_validation_values(sig, collector.values())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
