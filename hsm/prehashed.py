"""Sign digests computed elsewhere (the CSC ``signHash`` input) with a keystore key.

A CSC client sends the digest of the CMS signed attributes; the key must sign
that digest as it is, without hashing again and without leaving custody:

- PKCS#11, RSA PKCS#1 v1.5: ``CKM_RSA_PKCS`` over a DER ``DigestInfo`` built here;
- PKCS#11, RSASSA-PSS: ``CKM_RSA_PKCS_PSS`` with the hash, MGF and salt length
  of the requested PSS parameters;
- PKCS#11, ECDSA: raw ``CKM_ECDSA`` over the digest, the token's ``r || s``
  DER-encoded;
- the development software keystore: ``cryptography``'s ``Prehashed``.

Signatures go through the PKCS#11 keystore's pooled sessions. :class:`DigestSigner`
counts signatures per key (tests use it to prove a refused request signed nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, PSS, PKCS1v15
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from core.errors import InvalidInput
from hsm.keystore import KeyStore

__all__ = ["DIGEST_SIZES", "DigestSigner", "SignatureScheme", "scheme_for", "supported_schemes"]

DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
"""Digests accepted for signatures (TT 15/2025/TT-BKHCN: SHA-256 or stronger)."""


@dataclass(frozen=True)
class SignatureScheme:
    """How one digest is to be signed."""

    kind: str
    """``rsa_pkcs1v15``, ``rsa_pss`` or ``ecdsa``."""
    digest_algorithm: str
    """``sha256``, ``sha384`` or ``sha512``: the algorithm the digest was made with."""
    pss_mgf_digest: str = ""
    """RSASSA-PSS only: the MGF1 hash."""
    pss_salt_length: int = 0
    """RSASSA-PSS only: the salt length in bytes."""


def _refuse(what: str, vi: str, en: str) -> InvalidInput:
    return InvalidInput("sign.unsupported_algorithm", vi, en, details={"parameter": what})


def scheme_for(public_key: keys.PublicKeyInfo, sign_algo: algos.SignedDigestAlgorithm,
               digest_algorithm: str) -> SignatureScheme:
    """Check that ``sign_algo`` (with its parameters) fits the key and the digest; refuse
    weak digests and mismatches (``InvalidInput("sign.unsupported_algorithm")``)."""
    md = digest_algorithm.lower()
    if md not in DIGEST_SIZES:
        raise _refuse("hashAlgo", f"Thuật toán băm '{digest_algorithm}' không được chấp nhận "
                      "(SHA-256 trở lên).",
                      f"Digest algorithm '{digest_algorithm}' is not accepted (SHA-256 or "
                      "stronger).")
    name = sign_algo["algorithm"].native
    is_rsa = public_key.algorithm == "rsa"
    if name in ("rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa") and is_rsa:
        if name != "rsassa_pkcs1v15" and name != f"{md}_rsa":
            raise _refuse("signAlgo", "Thuật toán ký không khớp thuật toán băm.",
                          "The signature algorithm does not match the digest algorithm.")
        return SignatureScheme("rsa_pkcs1v15", md)
    if name == "rsassa_pss" and is_rsa:
        params = sign_algo["parameters"]
        if not isinstance(params, algos.RSASSAPSSParams):
            raise _refuse("signAlgoParams", "Thiếu tham số RSASSA-PSS.",
                          "RSASSA-PSS parameters are missing.")
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        mgf_hash = mgf["parameters"]["algorithm"].native
        if hash_name != md or mgf["algorithm"].native != "mgf1" or mgf_hash not in DIGEST_SIZES:
            raise _refuse("signAlgoParams", "Tham số RSASSA-PSS không khớp thuật toán băm.",
                          "The RSASSA-PSS parameters do not match the digest algorithm.")
        return SignatureScheme("rsa_pss", md, mgf_hash, int(params["salt_length"].native))
    if name in ("ecdsa", "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa") and not is_rsa:
        return SignatureScheme("ecdsa", md)
    raise _refuse("signAlgo", f"Khoá này không ký được theo thuật toán '{name}'.",
                  f"This key cannot sign with '{name}'.")


def supported_schemes(public_key: keys.PublicKeyInfo) -> list[str]:
    """Signature algorithm OIDs a key offers (CSC ``key.algo``)."""
    if public_key.algorithm == "rsa":
        names = ["sha256_rsa", "sha384_rsa", "sha512_rsa", "rsassa_pss"]
    else:
        names = ["sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"]
    return [algos.SignedDigestAlgorithmId(n).dotted for n in names]


def _digest_info(digest: bytes, md: str) -> bytes:
    info = algos.DigestInfo({"digest_algorithm": {"algorithm": md}, "digest": digest})
    der: bytes = info.dump()
    return der


def _pkcs11_call(scheme: SignatureScheme, digest: bytes) -> tuple[bytes, dict[str, Any], bool]:
    """``(payload, sign kwargs, ecdsa?)`` for a PKCS#11 ``sign`` over a digest."""
    from pkcs11 import MGF, Mechanism

    digest_mechs = {"sha256": Mechanism.SHA256, "sha384": Mechanism.SHA384,
                    "sha512": Mechanism.SHA512}
    mgfs = {"sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}
    if scheme.kind == "rsa_pkcs1v15":
        return _digest_info(digest, scheme.digest_algorithm), {"mechanism": Mechanism.RSA_PKCS}, False
    if scheme.kind == "rsa_pss":
        return digest, {"mechanism": Mechanism.RSA_PKCS_PSS, "mechanism_param": (
            digest_mechs[scheme.digest_algorithm], mgfs[scheme.pss_mgf_digest],
            scheme.pss_salt_length)}, False
    return digest, {"mechanism": Mechanism.ECDSA}, True


def _sign_software(private_key: Any, scheme: SignatureScheme, digest: bytes) -> bytes:
    prehashed = utils.Prehashed(get_pyca_cryptography_hash(scheme.digest_algorithm))
    if scheme.kind == "ecdsa" and isinstance(private_key, ec.EllipticCurvePrivateKey):
        sig: bytes = private_key.sign(digest, ec.ECDSA(prehashed))
        return sig
    if isinstance(private_key, rsa.RSAPrivateKey):
        if scheme.kind == "rsa_pss":
            pad = PSS(mgf=MGF1(get_pyca_cryptography_hash(scheme.pss_mgf_digest)),
                      salt_length=scheme.pss_salt_length)
            return private_key.sign(digest, pad, prehashed)
        return private_key.sign(digest, PKCS1v15(), prehashed)
    raise _refuse("signAlgo", "Khoá không hỗ trợ thuật toán này.",
                  "The key does not support this algorithm.")


class DigestSigner:
    """Signs pre-computed digests with the keys of one :class:`~hsm.keystore.KeyStore`."""

    def __init__(self, keystore: KeyStore) -> None:
        self.keystore = keystore
        self._lock = threading.Lock()
        self._usage: dict[str, int] = {}

    def usage(self, key_id: str) -> int:
        """Signatures made with ``key_id`` through this signer since it was created."""
        with self._lock:
            return self._usage.get(key_id, 0)

    def sign_digests(self, key_id: str, digests: Sequence[bytes],
                     sign_algo: algos.SignedDigestAlgorithm,
                     digest_algorithm: str) -> list[bytes]:
        """Sign every digest with the key; all are checked before the first is signed.
        ECDSA results are DER ``ECDSA-Sig-Value``; RSA results the raw signature."""
        scheme = scheme_for(self.keystore.public_key(key_id), sign_algo, digest_algorithm)
        size = DIGEST_SIZES[scheme.digest_algorithm]
        for d in digests:
            if len(d) != size:
                raise _refuse("hash", f"Giá trị băm phải dài {size} byte.",
                              f"Each hash must be {size} bytes long.")
        from hsm.pkcs11 import Pkcs11Keystore
        from hsm.software import DevSoftwareKeystore

        store = self.keystore
        if isinstance(store, Pkcs11Keystore):
            out = self._sign_pkcs11(store, key_id, scheme, digests)
        elif isinstance(store, DevSoftwareKeystore):
            # same package: the development keystore keeps its parsed key private
            private_key = store._private_key(key_id)
            out = [_sign_software(private_key, scheme, d) for d in digests]
        else:  # pragma: no cover - a third store type would add its own branch
            raise _refuse("credentialID", "Kho khoá không hỗ trợ ký giá trị băm.",
                          "This key store cannot sign pre-computed hashes.")
        with self._lock:
            self._usage[key_id] = self._usage.get(key_id, 0) + len(out)
        return out

    @staticmethod
    def _sign_pkcs11(store: Any, key_id: str, scheme: SignatureScheme,
                     digests: Sequence[bytes]) -> list[bytes]:
        from pkcs11.util.ec import encode_ecdsa_signature

        calls = [_pkcs11_call(scheme, d) for d in digests]

        def _sign(pooled: Any) -> list[bytes]:
            key = pooled.private_key(key_id)
            out = []
            for payload, kwargs, is_ec in calls:
                sig = bytes(key.sign(payload, **kwargs))
                out.append(encode_ecdsa_signature(sig) if is_ec else sig)
            return out
        result: list[bytes] = store.pool.run(_sign, what="sign hashes")
        return result
