"""A pyHanko ``Signer`` over a private key already loaded in memory.

pyHanko's ``SimpleSigner`` re-parses its key from DER on every signature
(~37 ms for RSA-2048). :class:`InMemoryKeySigner` parses it once. Keys of
clinicians live in an HSM in production (``hsm/``); this signer serves the
development keystore, tests and benchmarks.
"""

from __future__ import annotations

from asn1crypto import keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import CertificateStore, SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from core.errors import SigningError

__all__ = ["InMemoryKeySigner"]


def _parsed(cert: x509.Certificate) -> x509.Certificate:
    """The certificate as parsed from DER: asn1crypto then reuses its encoding
    instead of re-encoding a constructed certificate for every signature."""
    return x509.Certificate.load(cert.dump())


class InMemoryKeySigner(SimpleSigner):
    """``SimpleSigner`` that keeps the parsed private key (RSA or ECDSA)."""

    def __init__(
        self,
        signing_cert: x509.Certificate,
        signing_key: keys.PrivateKeyInfo,
        cert_registry: CertificateStore | None = None,
        *,
        prefer_pss: bool = False,
        embed_roots: bool = True,
    ) -> None:
        super().__init__(
            signing_cert=_parsed(signing_cert),
            signing_key=signing_key,
            cert_registry=cert_registry or SimpleCertificateStore(),  # type: ignore[no-untyped-call]
            prefer_pss=prefer_pss,
            embed_roots=embed_roots,
        )
        self._loaded = serialization.load_der_private_key(signing_key.dump(), password=None)

    @classmethod
    def from_chain(
        cls,
        signing_key: keys.PrivateKeyInfo,
        chain: list[x509.Certificate],
        *,
        prefer_pss: bool = False,
    ) -> InMemoryKeySigner:
        """``chain[0]`` is the signer's certificate, the rest its issuers."""
        return cls(
            chain[0], signing_key,
            SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_parsed(c) for c in chain[1:]]),
            prefer_pss=prefer_pss,
        )

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        name = mechanism.signature_algo
        key = self._loaded
        if name == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if name == "rsassa_pss" and isinstance(key, RSAPrivateKey):
            padding, hash_algo = process_pss_params(mechanism["parameters"])
            return key.sign(data, padding, hash_algo)
        if name == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        raise SigningError(
            "sign.unsupported_mechanism",
            f"Cơ chế ký {name} không được hỗ trợ với khoá này.",
            f"Signature mechanism {name} is not supported with this key.",
        )
