"""Where a signature's revocation data (OCSP responses, CRLs) comes from.

:class:`RevocationSource` is the one interface: it hands out a **new**
``ValidationContext`` for every signature, because pyHanko embeds everything a
context holds into the DSS (``embed_validation_info=True``), so a shared
context would leak one signer's OCSP responses into another's document.

:class:`OnlineRevocationSource` fetches over HTTP with pyhanko-certvalidator's
own fetchers and keeps OCSP responses and CRLs in a shared cache while they
are fresh (until their ``nextUpdate``, capped by ``max_age``), so a batch of
signatures by one clinician costs one OCSP round trip.

:func:`check_signer_status` is the pre-signing check required by NĐ 23/2025
Đ15: a revoked, expired, not-yet-valid or unverifiable certificate is refused
before anything is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from asn1crypto import cms, crl, ocsp, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers.api import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    OCSPFetcher,
)
from pyhanko_certvalidator.util import get_ocsp_urls, issuer_serial

from core.errors import HsbaError, SigningError, UnavailableError

log = logging.getLogger(__name__)

__all__ = [
    "OnlineRevocationSource",
    "RevinfoCache",
    "RevocationSource",
    "check_signer_status",
    "status_error",
]


@runtime_checkable
class RevocationSource(Protocol):
    """Gives each signature its own validation context (trust anchors + revocation data).

    Implementations: :class:`OnlineRevocationSource` (the CA's OCSP/CRL over
    HTTP), ``hsm.dev_pki.DevPki.revocation_source()`` (development PKI).
    """

    def validation_context(self) -> ValidationContext:
        """A new context for one signature: trust roots, known intermediates,
        revocation checking required (OCSP, else CRL), fetchers able to get it."""
        ...


class RevinfoCache:
    """OCSP responses and CRLs shared across signatures while they are fresh.

    Thread-safe; entries expire at ``nextUpdate`` (or ``max_age`` after being
    fetched when the response has none, whichever is first).
    """

    def __init__(self, max_age: timedelta = timedelta(minutes=5)) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._ocsp: dict[Any, tuple[datetime, ocsp.OCSPResponse]] = {}
        self._crl: dict[Any, tuple[datetime, list[crl.CertificateList]]] = {}
        self.hits = 0
        self.misses = 0

    def _get(self, table: dict[Any, tuple[datetime, Any]], key: Any) -> Any:
        now = datetime.now(UTC)
        with self._lock:
            entry = table.get(key)
            if entry is None or entry[0] <= now:
                table.pop(key, None)
                self.misses += 1
                return None
            self.hits += 1
            return entry[1]

    def get_ocsp(self, key: Any) -> ocsp.OCSPResponse | None:
        result: ocsp.OCSPResponse | None = self._get(self._ocsp, key)
        return result

    def put_ocsp(self, key: Any, response: ocsp.OCSPResponse) -> None:
        expiry = datetime.now(UTC) + self.max_age
        try:
            single = response["response_bytes"]["response"].parsed["tbs_response_data"][
                "responses"
            ][0]
            next_update = single["next_update"].native
            if next_update is not None:
                expiry = min(expiry, next_update)
        except (KeyError, IndexError, ValueError, TypeError):
            pass
        with self._lock:
            self._ocsp[key] = (expiry, response)

    def get_crls(self, key: Any) -> list[crl.CertificateList] | None:
        result: list[crl.CertificateList] | None = self._get(self._crl, key)
        return result

    def put_crls(self, key: Any, crls: list[crl.CertificateList]) -> None:
        expiry = datetime.now(UTC) + self.max_age
        for c in crls:
            next_update = c["tbs_cert_list"]["next_update"].native
            if next_update is not None:
                expiry = min(expiry, next_update)
        with self._lock:
            self._crl[key] = (expiry, list(crls))


class _CachingOcspFetcher(OCSPFetcher):
    """Per-context OCSP fetcher: answers from the shared cache, else asks ``inner``.

    Remembers only what *this* context used, so the DSS of a signature holds
    only that signature's responses.
    """

    def __init__(self, inner: OCSPFetcher, cache: RevinfoCache) -> None:
        self._inner = inner
        self._cache = cache
        self._used: list[tuple[bytes, ocsp.OCSPResponse]] = []

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, authority: Authority
    ) -> ocsp.OCSPResponse:
        key = (issuer_serial(cert), authority.hashable, tuple(get_ocsp_urls(cert)))
        response = self._cache.get_ocsp(key)
        if response is None:
            response = await self._inner.fetch(cert, authority)
            self._cache.put_ocsp(key, response)
        self._used.append((issuer_serial(cert), response))
        return response

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return [r for _, r in self._used]

    def fetched_responses_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[ocsp.OCSPResponse]:
        target = issuer_serial(cert)
        return [r for s, r in self._used if s == target]


class _CachingCrlFetcher(CRLFetcher):
    """Per-context CRL fetcher over the shared cache (keyed by distribution points)."""

    def __init__(self, inner: CRLFetcher, cache: RevinfoCache) -> None:
        self._inner = inner
        self._cache = cache
        self._used: dict[bytes, list[crl.CertificateList]] = {}

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, *, use_deltas: Any = None
    ) -> Iterable[crl.CertificateList]:
        if isinstance(cert, x509.Certificate):
            points = tuple(
                str(url) for dp in (cert.crl_distribution_points or []) for url in [dp.url]
            )
        else:
            points = ()
        key = (points, bool(use_deltas)) if points else (issuer_serial(cert), bool(use_deltas))
        crls = self._cache.get_crls(key)
        if crls is None:
            crls = list(await self._inner.fetch(cert, use_deltas=use_deltas))
            self._cache.put_crls(key, crls)
        self._used[issuer_serial(cert)] = crls
        return crls

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        seen: dict[bytes, crl.CertificateList] = {}
        for crls in self._used.values():
            for c in crls:
                seen.setdefault(c.sha256, c)
        return list(seen.values())

    def fetched_crls_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[crl.CertificateList]:
        return self._used[issuer_serial(cert)]


def caching_fetchers(inner: Fetchers, cache: RevinfoCache) -> Fetchers:
    """Wrap one context's fetchers so OCSP/CRL answers come from ``cache`` while fresh."""
    cert_fetcher: CertificateFetcher = inner.cert_fetcher
    return Fetchers(
        ocsp_fetcher=_CachingOcspFetcher(inner.ocsp_fetcher, cache),
        crl_fetcher=_CachingCrlFetcher(inner.crl_fetcher, cache),
        cert_fetcher=cert_fetcher,
    )


class OnlineRevocationSource:
    """Revocation data from the CA's OCSP responders and CRL distribution points.

    :param trust_roots: the trust anchors (national root CA, a hospital's trust list).
    :param other_certs: intermediates known in advance (helps path building offline).
    :param backend: a pyhanko-certvalidator fetcher backend; default is its
        ``requests`` backend with ``timeout_s`` per request.
    :param cache: shared between signatures; one per process is right.
    """

    def __init__(
        self,
        trust_roots: Sequence[x509.Certificate],
        *,
        other_certs: Sequence[x509.Certificate] = (),
        timeout_s: float = 10.0,
        backend: FetcherBackend | None = None,
        cache: RevinfoCache | None = None,
        revocation_mode: str = "require",
    ) -> None:
        if backend is None:
            from pyhanko_certvalidator.fetchers.requests_fetchers import (
                RequestsFetcherBackend,
            )

            backend = RequestsFetcherBackend(per_request_timeout=timeout_s)
        self._backend = backend
        self.trust_roots = list(trust_roots)
        self.other_certs = list(other_certs)
        self.cache = cache or RevinfoCache()
        self.revocation_mode = revocation_mode

    def validation_context(self) -> ValidationContext:
        return ValidationContext(
            trust_roots=self.trust_roots,
            other_certs=self.other_certs,
            allow_fetching=True,
            revocation_mode=self.revocation_mode,
            fetchers=caching_fetchers(self._backend.get_fetchers(), self.cache),
        )


def _subject(cert: x509.Certificate) -> str:
    # Certificate subjects of clinicians carry names: log the serial, not the subject.
    return f"serial={cert.serial_number:x}"


async def check_signer_status(
    signing_cert: x509.Certificate,
    context: ValidationContext,
    *,
    intermediates: Sequence[x509.Certificate] = (),
    key_usage: frozenset[str] = frozenset(),
) -> None:
    """Refuse a signer whose certificate is revoked, expired, not yet valid or
    cannot be checked (NĐ 23/2025 Đ15). Raises :class:`SigningError` /
    :class:`UnavailableError`; returns ``None`` when the certificate is good."""
    validator = CertificateValidator(
        signing_cert, intermediate_certs=list(intermediates), validation_context=context
    )
    who = _subject(signing_cert)
    try:
        await validator.async_validate_usage(key_usage=set(key_usage))  # type: ignore[no-untyped-call]
    except Exception as e:
        mapped = status_error(e, signing_cert)
        if mapped is None:
            raise
        raise mapped from e
    log.debug("signer certificate %s is good", who)




def status_error(exc: BaseException, signing_cert: x509.Certificate) -> HsbaError | None:
    """The hsba error for a certificate-validation failure of the signer (``None``
    if ``exc`` is not one): revoked / expired / not yet valid / unverifiable / untrusted."""
    who = {"certificate": _subject(signing_cert)}
    if isinstance(exc, cv_errors.RevokedError):
        return SigningError(
            "sign.certificate_revoked",
            "Chứng thư số của người ký đã bị thu hồi; không thể ký.",
            "The signer's certificate has been revoked; signing refused.", details=who)
    if isinstance(exc, cv_errors.ExpiredError):
        return SigningError(
            "sign.certificate_expired",
            "Chứng thư số của người ký đã hết hạn; không thể ký.",
            "The signer's certificate has expired; signing refused.", details=who)
    if isinstance(exc, cv_errors.NotYetValidError):
        return SigningError(
            "sign.certificate_not_yet_valid",
            "Chứng thư số của người ký chưa có hiệu lực; không thể ký.",
            "The signer's certificate is not yet valid; signing refused.", details=who)
    if isinstance(exc, (cv_errors.InsufficientRevinfoError, cv_errors.OCSPFetchError,
                        cv_errors.CRLFetchError)):
        return UnavailableError(
            "sign.revocation_unavailable",
            "Không kiểm tra được trạng thái chứng thư số (OCSP/CRL không trả lời); không thể ký.",
            "The certificate status could not be checked (no OCSP/CRL answer); signing refused.",
            details={**who, "reason": str(exc)})
    if isinstance(exc, (cv_errors.PathBuildingError, cv_errors.PathValidationError,
                        cv_errors.InvalidCertificateError)):
        return SigningError(
            "sign.certificate_untrusted",
            "Chứng thư số của người ký không hợp lệ hoặc không thuộc chuỗi tin cậy.",
            "The signer's certificate is invalid or not issued under a trusted root.",
            details={**who, "reason": str(exc)})
    return None
