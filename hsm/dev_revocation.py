"""In-process time-stamping and revocation for the development PKI. DEVELOPMENT ONLY.

- :class:`LocalDevTsa`: pyHanko's ``DummyTimeStamper`` with the dev TSA's key
  parsed once (the dummy re-parses its key for every token).
- :class:`DevRevocationSource`: implements ``signer.revocation.RevocationSource``;
  each call to :meth:`~DevRevocationSource.validation_context` gives a new
  ``ValidationContext`` whose OCSP, CRL and issuer "fetchers" are answered by
  the :class:`~hsm.dev_pki.DevPki` in process (no network), so pyHanko embeds
  exactly what the signature needed into the DSS.
- :class:`RevocationMaterial`: raw CRLs / OCSP responses for one certificate.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from asn1crypto import cms, core, crl, keys, ocsp, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.sign import general
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers.api import (
    CertificateFetcher,
    CRLFetcher,
    Fetchers,
    OCSPFetcher,
)
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from hsm.keystore import refuse_in_production

if TYPE_CHECKING:
    from hsm.dev_ca import CaMaterial
    from hsm.dev_pki import DevPki

__all__ = ["DevRevocationSource", "LocalDevTsa", "RevocationMaterial"]


@dataclass(frozen=True)
class RevocationMaterial:
    """Revocation data for one certificate and its chain (DER)."""

    crls: tuple[bytes, ...]
    """Fresh CRLs of the issuing CA and the root."""
    ocsp_responses: tuple[bytes, ...]
    """An OCSP response for the certificate (when the issuing CA issued it)."""


def _asn1(cert: cx509.Certificate) -> x509.Certificate:
    return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _attr(name: str, value: object) -> cms.CMSAttribute:
    attr: cms.CMSAttribute = simple_cms_attribute(name, value)  # type: ignore[no-untyped-call]
    return attr


class LocalDevTsa(DummyTimeStamper):
    """RFC 3161 time-stamping in process with the development TSA key. UNSAFE:
    refused when ``HSBA_ENV=production``; the key is parsed once."""

    def __init__(self, tsa: CaMaterial, chain: Sequence[cx509.Certificate]) -> None:
        refuse_in_production("TSA nội bộ phát triển (LocalDevTsa)",
                             "The in-process development TSA (LocalDevTsa)")
        key_info = keys.PrivateKeyInfo.load(tsa.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        super().__init__(_asn1(tsa.cert), key_info, certs_to_embed=None)
        self.certs_to_embed = [_asn1(c) for c in chain]
        self._key = tsa.key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        md = get_pyca_cryptography_hash(md_algorithm)
        h = hashes.Hash(md)
        h.update(tst_info_data)
        signed_attrs = cms.CMSAttributes([  # same attributes as pyHanko's DummyTimeStamper
            _attr("content_type", "tst_info"),
            _attr("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
            _attr("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
            _attr("message_digest", h.finalize()),
        ])
        signature = self._key.sign(signed_attrs.dump(), PKCS1v15(), md)
        return signature, signed_attrs


class _DevOcspFetcher(OCSPFetcher):
    def __init__(self, pki: DevPki) -> None:
        self._pki = pki
        self._fetched: list[tuple[bytes, ocsp.OCSPResponse]] = []

    async def fetch(self, cert: x509.Certificate | cms.AttributeCertificateV2,
                    authority: Authority) -> ocsp.OCSPResponse:
        from pyhanko_certvalidator.errors import OCSPFetchError

        if not isinstance(cert, x509.Certificate):
            raise OCSPFetchError("attribute certificates are not served by the dev PKI")
        resp = ocsp.OCSPResponse.load(self._pki.ocsp_response_for(cert))
        if resp["response_status"].native != "successful":
            raise OCSPFetchError("dev PKI OCSP responder does not answer for this issuer")
        self._fetched.append((cert.issuer_serial, resp))
        return resp

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return [r for _, r in self._fetched]

    def fetched_responses_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[ocsp.OCSPResponse]:
        target = cert.issuer_serial if isinstance(cert, x509.Certificate) else b""
        return [r for s, r in self._fetched if s == target]


class _DevCrlFetcher(CRLFetcher):
    def __init__(self, pki: DevPki) -> None:
        self._pki = pki
        self._fetched: dict[bytes, list[crl.CertificateList]] = {}

    def _issuer_of(self, cert: x509.Certificate | cms.AttributeCertificateV2) -> str:
        root = _asn1(self._pki.root.cert).subject.dump()
        if isinstance(cert, x509.Certificate) and cert.issuer.dump() == root:
            return "root"
        return "issuing"

    async def fetch(self, cert: x509.Certificate | cms.AttributeCertificateV2, *,
                    use_deltas: object = None) -> Iterable[crl.CertificateList]:
        crls = [crl.CertificateList.load(self._pki.crl_der(self._issuer_of(cert)))]
        key = cert.issuer_serial if isinstance(cert, x509.Certificate) else b""
        self._fetched[key] = crls
        return crls

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        seen: dict[bytes, crl.CertificateList] = {}
        for crls in self._fetched.values():
            for c in crls:
                seen.setdefault(c.sha256, c)
        return list(seen.values())

    def fetched_crls_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[crl.CertificateList]:
        key = cert.issuer_serial if isinstance(cert, x509.Certificate) else b""
        return self._fetched[key]


class _DevCertFetcher(CertificateFetcher):
    def __init__(self, pki: DevPki) -> None:
        self._certs = [*pki.intermediates, *pki.trust_roots]
        self._fetched: list[x509.Certificate] = []

    async def _issuers(self, name: x509.Name) -> AsyncGenerator[x509.Certificate, None]:
        for c in self._certs:
            if c.subject.dump() == name.dump():
                self._fetched.append(c)
                yield c

    def fetch_cert_issuers(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> AsyncGenerator[x509.Certificate, None]:
        issuer = cert.issuer if isinstance(cert, x509.Certificate) else x509.Name()
        return self._issuers(issuer)

    def fetch_crl_issuers(self, certificate_list: crl.CertificateList
                          ) -> AsyncGenerator[x509.Certificate, None]:
        return self._issuers(certificate_list.issuer)

    def fetched_certs(self) -> Iterable[x509.Certificate]:
        return list(self._fetched)


class DevRevocationSource:
    """``signer.revocation.RevocationSource`` over the development PKI (in process)."""

    def __init__(self, pki: DevPki, *, revocation_mode: str = "require") -> None:
        self.pki = pki
        self.revocation_mode = revocation_mode

    @property
    def trust_roots(self) -> list[x509.Certificate]:
        return self.pki.trust_roots

    def fetchers(self) -> Fetchers:
        return Fetchers(ocsp_fetcher=_DevOcspFetcher(self.pki),
                        crl_fetcher=_DevCrlFetcher(self.pki),
                        cert_fetcher=_DevCertFetcher(self.pki))

    def validation_context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=self.pki.trust_roots,
            other_certs=[*self.pki.intermediates, self.pki.tsa_certificate],
            allow_fetching=True,
            revocation_mode=self.revocation_mode,
            fetchers=self.fetchers(),
        )
