"""Signing with a key held by an external CSC service, through pyHanko's ``CSCSigner``.

pyHanko's client fetches ``credentials/info`` and calls ``signatures/signHash``
itself; the vendor-specific part, obtaining the SAD, is
:class:`PinOtpAuthorization`: one ``credentials/authorize`` call per batch,
with the signer's PIN and a fresh OTP, bound to the batch's hashes (SCAL2).
Works with v1 (``/csc/v1/...``, ``hash``) and v2 (``/csc/v2/...``, ``hashes``)
services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from asn1crypto import tsp, x509
from pyhanko.sign.attributes import (
    CMSAttributeProvider,
    SignedAttributeProviderSpec,
    SigningCertificateV2Provider,
)
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCCredentialInfo,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)

from core.errors import KeyCustodyError

__all__ = ["CscEndpoint", "HsbaCscSigner", "PinOtpAuthorization", "open_csc_signer"]


@dataclass(frozen=True)
class CscEndpoint:
    """Where and as whom to reach a CSC service."""

    service_url: str
    """Base URL in front of ``/csc/v1|v2/...``."""
    credential_id: str
    access_token: str
    """OAuth2 bearer token (``auth/login`` or ``oauth2/token``)."""
    api_ver: str = "v1"
    """``v1`` or ``v2`` path style."""


class PinOtpAuthorization(CSCAuthorizationManager):
    """Gets a SAD from ``credentials/authorize`` with the signer's PIN and OTP.

    ``otp`` is called for every authorisation (a TOTP app, an SMS prompt...).
    """

    def __init__(self, session_info: CSCServiceSessionInfo, credential_info: CSCCredentialInfo,
                 *, http: aiohttp.ClientSession, pin: str, otp: Callable[[], str],
                 hash_algorithm_oid: str = "2.16.840.1.101.3.4.2.1") -> None:
        super().__init__(session_info, credential_info)
        self._http = http
        self._pin = pin
        self._otp = otp
        self._hash_oid = hash_algorithm_oid
        self.authorizations = 0
        """``credentials/authorize`` calls made (one per batch)."""

    async def _post(self, url: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self._http.post(url, json=body, headers=self.auth_headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        body: dict[str, Any] = self.format_csc_auth_request(
            pin=self._pin, otp=self._otp(), hash_b64s=hash_b64s)
        if self.csc_session_info.api_ver != "v1":
            body["hashes"] = body.pop("hash")
            body["hashAlgorithmOID"] = self._hash_oid
        url = self.csc_session_info.endpoint_url(  # type: ignore[no-untyped-call]
            "credentials/authorize")
        for attempt in (1, 2):
            try:
                status, data = await self._post(url, body)
                break
            except aiohttp.ServerDisconnectedError:
                # an idle keep-alive connection closed by the server: nothing was
                # authorised, ask once more on a new connection
                if attempt == 2:
                    raise
        if status != 200:
            error = data.get("error") if isinstance(data, dict) else None
            raise KeyCustodyError(
                "remote.authorization_refused",
                f"Dịch vụ ký từ xa từ chối uỷ quyền ký ({error}).",
                f"The remote signing service refused the authorisation ({error}).",
                details={"status": status, "error": error,
                         "credential_id": self.csc_session_info.credential_id})
        self.authorizations += 1
        return self.parse_csc_auth_response(data)


class _KnownSigningCertificate(CMSAttributeProvider):
    """The signing-certificate-v2 attribute of one certificate, encoded once.

    pyHanko rebuilds it for every signature (an ESSCertIDv2 with the issuer's name:
    about 20 ms of asn1crypto work per document here, most of a batch's client-side
    time); the value is the same for every signature of the credential."""

    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes) -> None:
        self._der = der

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        # parsed from DER: asn1crypto reuses the encoding instead of rebuilding it
        return tsp.SigningCertificateV2.load(self._der)


class _SameAttributesCachedCertificate(SignedAttributeProviderSpec):
    """pyHanko's own signed-attribute providers, with the signing-certificate
    attribute of the signer's certificate taken from :class:`_KnownSigningCertificate`."""

    def __init__(self, inner: SignedAttributeProviderSpec, cert: x509.Certificate,
                 scv2_der: bytes) -> None:
        self._inner = inner
        self._cert_der = cert.dump()
        self._scv2 = _KnownSigningCertificate(scv2_der)

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str,
                              ) -> Iterable[CMSAttributeProvider]:
        for provider in self._inner.signed_attr_providers(data_digest, digest_algorithm):
            if isinstance(provider, SigningCertificateV2Provider) \
                    and provider.signing_cert.dump() == self._cert_der:
                yield self._scv2
            else:
                yield provider


class HsbaCscSigner(CSCSigner):
    """pyHanko's ``CSCSigner``, unchanged on the wire, that encodes the signer's
    signing-certificate attribute once per credential instead of once per document
    (same signed attributes, same bytes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cert = self.signing_cert
        assert cert is not None
        self._scv2_der = as_signing_certificate_v2(cert).dump()

    def _signed_attr_provider_spec(self, *args: Any, **kwargs: Any,
                                   ) -> SignedAttributeProviderSpec:
        inner = super()._signed_attr_provider_spec(*args, **kwargs)  # type: ignore[no-untyped-call]
        if self.signed_attr_prov_spec is not None:
            return inner
        assert self.signing_cert is not None
        return _SameAttributesCachedCertificate(inner, self.signing_cert, self._scv2_der)


async def open_csc_signer(endpoint: CscEndpoint, http: aiohttp.ClientSession, *, pin: str,
                          otp: Callable[[], str], batch_size: int = 1,
                          prefer_pss: bool = False, plain_pyhanko: bool = False) -> CSCSigner:
    """A pyHanko ``CSCSigner`` for the credential: certificates from ``credentials/info``,
    SADs from :class:`PinOtpAuthorization`; ``batch_size`` signatures per ``signHash``.
    By default an :class:`HsbaCscSigner`; ``plain_pyhanko`` gives pyHanko's class as is."""
    info = CSCServiceSessionInfo(endpoint.service_url, endpoint.credential_id,
                                 oauth_token=endpoint.access_token, api_ver=endpoint.api_ver)
    cred = await fetch_certs_in_csc_credential(http, info)
    auth = PinOtpAuthorization(info, cred, http=http, pin=pin, otp=otp)
    cls = CSCSigner if plain_pyhanko else HsbaCscSigner
    return cls(http, auth, batch_size=batch_size, prefer_pss=prefer_pss)
