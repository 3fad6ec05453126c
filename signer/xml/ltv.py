"""XAdES-LT: the long-term validation data of an XML signature (ETSI EN 319 132-1,
5.5.1 ``CertificateValues`` and 5.5.2 ``RevocationValues``; baseline B-LT).

After the ``SignatureTimeStamp`` of a XAdES-T signature, ``UnsignedSignatureProperties``
gets every certificate of the seal's path and of the TSA's path (and of the OCSP
responders that answered), each once, as ``EncapsulatedX509Certificate``, and the OCSP
responses and CRLs that proved them unrevoked (``OCSPValues/EncapsulatedOCSPValue``,
``CRLValues/EncapsulatedCRLValue``). A verifier then needs no network, and neither the
CA's OCSP responder nor its CRL distribution point has to exist any more.

Nothing here speaks OCSP or parses CRLs itself: the paths are validated by
pyhanko-certvalidator with a ``ValidationContext`` from hsba's revocation source
(``signer.revocation.RevocationSource``: one new context per signature, fetching
allowed), and what that context fetched (``ocsps``, ``crls``) is what is embedded.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, crl, ocsp
from asn1crypto import x509 as asn1_x509
from lxml import etree

from core.errors import HsbaError, SigningError, UnavailableError
from signer.xml._sync import run_sync
from signer.xml.timestamp import DER_ENCODING, NS, UNSIGNED_PATH, XADES, TimestampRefused

LT = "XAdES-LT"


@dataclass(frozen=True)
class ValidationValues:
    """Certificates and revocation data of one signature (embedded or to embed)."""

    certs: tuple[asn1_x509.Certificate, ...] = ()
    ocsps: tuple[ocsp.OCSPResponse, ...] = ()
    crls: tuple[crl.CertificateList, ...] = ()

    def context_kwargs(self) -> dict[str, Any]:
        """``ValidationContext`` keyword arguments (the certificates are never trust anchors)."""
        return {"other_certs": list(self.certs), "ocsps": list(self.ocsps),
                "crls": list(self.crls)}


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[bytes, Any] = {}
    for item in items:
        seen.setdefault(item.dump(), item)
    return tuple(seen.values())


def _responder_certs(response: ocsp.OCSPResponse) -> list[asn1_x509.Certificate]:
    try:
        basic = response["response_bytes"]["response"].parsed
        return list(basic["certs"] or [])
    except (KeyError, ValueError, TypeError):
        return []


def _tsa_error(exc: BaseException) -> HsbaError:
    from pyhanko_certvalidator import errors as cv_errors

    reason = {"reason": f"{type(exc).__name__}: {exc}"}
    if isinstance(exc, cv_errors.RevokedError):
        return SigningError("xml.tsa_certificate_revoked",
                            "Chứng thư số của máy chủ cấp dấu thời gian (TSA) đã bị thu hồi.",
                            "The time-stamping authority's certificate has been revoked.",
                            details=reason)
    if isinstance(exc, (cv_errors.InsufficientRevinfoError, cv_errors.OCSPFetchError,
                        cv_errors.CRLFetchError)):
        return UnavailableError(
            "xml.tsa_revocation_unavailable",
            "Không lấy được dữ liệu thu hồi (OCSP/CRL) cho chứng thư của TSA; tệp XML chưa được ký.",
            "No revocation data (OCSP/CRL) could be obtained for the TSA's certificate; "
            "the XML file was not signed.", details=reason)
    return SigningError("xml.tsa_certificate_untrusted",
                        "Chứng thư số của TSA không hợp lệ hoặc không thuộc chuỗi tin cậy.",
                        "The TSA's certificate is invalid or not issued under a trusted root.",
                        details=reason)


class ValidationDataCollector:
    """Validates the seal's and the TSA's certificate paths with one new context from
    ``revocation`` (a ``signer.revocation.RevocationSource``) and keeps what it used."""

    def __init__(self, revocation: Any) -> None:
        self._ctx = revocation.validation_context()
        self._paths: list[Any] = []

    def check_signer(self, cert: asn1_x509.Certificate,
                     intermediates: Sequence[asn1_x509.Certificate]) -> None:
        """Before signing: refuse a revoked, expired, untrusted or unverifiable seal
        (``signer.revocation.status_error``: ``sign.certificate_revoked``, ...)."""
        from pyhanko_certvalidator import CertificateValidator

        from signer.revocation import status_error

        validator = CertificateValidator(cert, intermediate_certs=list(intermediates),
                                         validation_context=self._ctx)
        try:
            path = run_sync(lambda: validator.async_validate_usage(set()))
        except Exception as e:
            mapped = status_error(e, cert)
            if mapped is None:
                raise
            raise mapped from e
        self._paths.append(path)

    def check_timestamp_authority(self, token: cms.ContentInfo) -> None:
        """After time-stamping: the TSA's certificate path (EKU timeStamping) and its
        revocation data; a revoked or unverifiable TSA refuses the signature."""
        from pyhanko.sign.general import extract_certificate_info
        from pyhanko_certvalidator import CertificateValidator

        certs = extract_certificate_info(token["content"])
        validator = CertificateValidator(certs.signer_cert, intermediate_certs=certs.other_certs,
                                         validation_context=self._ctx)
        try:
            path = run_sync(lambda: validator.async_validate_usage(
                set(), extended_key_usage={"time_stamping"}))
        except Exception as e:  # every failure refuses, with its reason
            raise _tsa_error(e) from e
        self._paths.append(path)

    def values(self) -> ValidationValues:
        ocsps = _unique(self._ctx.ocsps)
        path_certs = [c for p in self._paths for c in p.iter_certs(include_root=True)]
        responders = [c for r in ocsps for c in _responder_certs(r)]
        return ValidationValues(_unique([*path_certs, *responders]), ocsps,
                                _unique(self._ctx.crls))


def _encapsulated(parent: Any, tag: str, der: bytes) -> None:
    el = etree.SubElement(parent, f"{{{XADES}}}{tag}", Encoding=DER_ENCODING)
    el.text = base64.b64encode(der).decode("ascii")


def add_validation_values(sig: Any, values: ValidationValues) -> None:
    """Append ``CertificateValues`` and ``RevocationValues`` to the unsigned signature
    properties of ``sig`` (a time-stamped ``ds:Signature``, lxml), in place."""
    usp = sig.xpath(UNSIGNED_PATH, namespaces=NS)
    if len(usp) != 1 or usp[0].find("xades:SignatureTimeStamp", NS) is None:
        raise SigningError("xml.lt_needs_timestamp",
                           "XAdES-LT cần chữ ký đã có dấu thời gian (XAdES-T).",
                           "XAdES-LT needs a time-stamped (XAdES-T) signature.")
    suffix = sig.get("Id") or "Signature"
    cert_values = etree.SubElement(usp[0], f"{{{XADES}}}CertificateValues",
                                   Id=f"CertificateValues-{suffix}")
    for cert in values.certs:
        _encapsulated(cert_values, "EncapsulatedX509Certificate", cert.dump())
    rev_values = etree.SubElement(usp[0], f"{{{XADES}}}RevocationValues",
                                  Id=f"RevocationValues-{suffix}")
    if values.crls:  # the schema's order: CRLValues, OCSPValues, OtherValues
        crl_values = etree.SubElement(rev_values, f"{{{XADES}}}CRLValues")
        for c in values.crls:
            _encapsulated(crl_values, "EncapsulatedCRLValue", c.dump())
    if values.ocsps:
        ocsp_values = etree.SubElement(rev_values, f"{{{XADES}}}OCSPValues")
        for r in values.ocsps:
            _encapsulated(ocsp_values, "EncapsulatedOCSPValue", r.dump())


_SHAPE = {
    "CertificateValues": {"EncapsulatedX509Certificate": asn1_x509.Certificate},
    "CRLValues": {"EncapsulatedCRLValue": crl.CertificateList},
    "OCSPValues": {"EncapsulatedOCSPValue": ocsp.OCSPResponse},
}


def _decode(el: Any, kind: Any) -> Any:
    if el.get("Encoding") not in (None, DER_ENCODING) or len(el):
        raise TimestampRefused("INVALID", "structure", f"{etree.QName(el).localname} encoding")
    try:
        der = base64.b64decode("".join((el.text or "").split()), validate=True)
        value = kind.load(der, strict=True)
        value.native  # noqa: B018 - parse it all now: hostile bytes fail here, not later
    except Exception as e:
        raise TimestampRefused("INVALID", "structure",
                               f"{etree.QName(el).localname} ({type(e).__name__})") from e
    return value


def _children(container: Any, name: str) -> list[Any]:
    ((tag, kind),) = _SHAPE[name].items()
    if any(child.tag != f"{{{XADES}}}{tag}" for child in container):
        raise TimestampRefused("INVALID", "structure", f"{name} content")
    return [_decode(child, kind) for child in container]


def read_validation_values(sig: Any) -> ValidationValues | None:
    """The ``CertificateValues`` / ``RevocationValues`` of ``sig`` (``None`` when it has
    neither), refusing any out of place, repeated, or holding anything but DER X.509
    certificates, CRLs and OCSP responses (``OtherCertificate``/``OtherValues`` refused)."""
    placed = {name: sig.xpath(f"{UNSIGNED_PATH}/xades:{name}", namespaces=NS)
              for name in ("CertificateValues", "RevocationValues")}
    for name, found in placed.items():
        if len(sig.xpath(f".//xades:{name}", namespaces=NS)) != len(found) or len(found) > 1:
            raise TimestampRefused("INVALID", "structure", f"{name} out of place or repeated")
    if not placed["CertificateValues"] and not placed["RevocationValues"]:
        return None
    if not sig.xpath(f"{UNSIGNED_PATH}/xades:SignatureTimeStamp", namespaces=NS):
        raise TimestampRefused("INVALID", "structure", "validation values without a time-stamp")
    certs = _children(placed["CertificateValues"][0], "CertificateValues") \
        if placed["CertificateValues"] else []
    crls: list[Any] = []
    ocsps: list[Any] = []
    for rev in placed["RevocationValues"]:
        names = [etree.QName(child).localname for child in rev]
        if names not in ([], ["CRLValues"], ["OCSPValues"], ["CRLValues", "OCSPValues"]) \
                or any(etree.QName(child).namespace != XADES for child in rev):
            raise TimestampRefused("INVALID", "structure", "RevocationValues content")
        for child in rev:
            target = crls if etree.QName(child).localname == "CRLValues" else ocsps
            target.extend(_children(child, etree.QName(child).localname))
    return ValidationValues(tuple(certs), tuple(ocsps), tuple(crls))
