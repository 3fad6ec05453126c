"""Software keystore — DEVELOPMENT ONLY: private keys as PEM files on disk.

:class:`DevSoftwareKeystore` keeps keys under ``{dir}/keys/`` and is refused
when ``HSBA_ENV=production``. Each key file is parsed once and the
``cryptography`` key object is kept in memory: pyHanko's ``SimpleSigner``
re-parses its key on every signature (~37 ms for RSA-2048), which
:class:`CachedKeySigner` avoids.

Files per key (``key_id`` is the stem): ``.key.pem`` (PKCS#8, mode 0600),
``.json`` (practitioner id, requested subject), ``.crt.pem`` (current
certificate), ``.chain.pem`` (issuing CAs), ``.history.pem`` (replaced
certificates, oldest first).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import algos, keys, pem, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from core.errors import Conflict, KeyCustodyError
from hsm.keystore import (
    KeyInfo,
    algorithm_of,
    certificate_pending,
    check_algorithm,
    describe_key,
    not_found,
    refuse_in_production,
    supersession,
    validate_key_id,
)

__all__ = ["CachedKeySigner", "DevSoftwareKeystore"]

log = logging.getLogger(__name__)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CachedKeySigner(Signer):
    """A pyHanko ``Signer`` over an already-parsed ``cryptography`` private key.

    Supports RSA (PKCS#1 v1.5 or PSS, chosen by ``prefer_pss`` / the
    ``signature_mechanism``) and ECDSA. The dry run pyHanko makes to size the
    signature container returns placeholder bytes of the maximal length
    instead of signing twice.
    """

    def __init__(
        self,
        private_key: PrivateKey,
        signing_cert: x509.Certificate,
        cert_registry: SimpleCertificateStore,
        *,
        prefer_pss: bool = False,
        signature_mechanism: algos.SignedDigestAlgorithm | None = None,
    ) -> None:
        self._private_key = private_key
        super().__init__(
            prefer_pss=prefer_pss,
            signing_cert=signing_cert,
            cert_registry=cert_registry,
            signature_mechanism=signature_mechanism,
        )

    def max_signature_size(self) -> int:
        key = self._private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return math.ceil(key.key_size / 8)
        n = math.ceil(key.curve.key_size / 8)
        return 2 * (n + 3) + 3

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(self.max_signature_size())
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism_value = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            mechanism = mechanism_value.signature_algo
        except ValueError:
            mechanism = mechanism_value["algorithm"].native
        key = self._private_key
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if mechanism == "rsassa_pss" and isinstance(key, rsa.RSAPrivateKey):
            padding, hash_algo = process_pss_params(mechanism_value["parameters"])
            return key.sign(data, padding, hash_algo)
        if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        raise PyHankoSigningError(f"Signature mechanism {mechanism} unsupported for this key")


def _load_pem_certs(path: Path) -> list[x509.Certificate]:
    if not path.is_file():
        return []
    data = path.read_bytes()
    return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]


def _pem(cert: x509.Certificate) -> bytes:
    armored: bytes = pem.armor("CERTIFICATE", cert.dump())
    return armored


class DevSoftwareKeystore:
    """Development keystore: keys in PEM files under ``{dir}/keys/``. UNSAFE.

    Refused when ``HSBA_ENV=production``; logs a warning when opened.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        refuse_in_production("Kho khoá phần mềm (DevSoftwareKeystore)",
                             "The software keystore (DevSoftwareKeystore)")
        self.root = Path(directory) / "keys"
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._lock = threading.RLock()
        self._keys: dict[str, PrivateKey] = {}
        self._signers: dict[tuple[str, bool], CachedKeySigner] = {}
        self.key_loads = 0
        """How many times a private key file has been parsed (once per key)."""
        log.warning(
            "DevSoftwareKeystore in use (%s): private keys are plain files on disk; "
            "development only, never for real patients",
            self.root,
        )

    # --- files ---------------------------------------------------------------
    def _path(self, key_id: str, suffix: str) -> Path:
        return self.root / f"{validate_key_id(key_id)}{suffix}"

    def _meta(self, key_id: str) -> dict[str, Any]:
        p = self._path(key_id, ".json")
        if not p.is_file():
            return {}
        data: dict[str, Any] = json.loads(p.read_text("utf-8"))
        return data

    def write_meta(self, key_id: str, **values: Any) -> None:
        """Record the practitioner id / requested subject of a key (enrolment)."""
        meta = self._meta(key_id)
        meta.update(values)
        self._path(key_id, ".json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")

    def _private_key(self, key_id: str) -> PrivateKey:
        with self._lock:
            cached = self._keys.get(key_id)
            if cached is not None:
                return cached
            p = self._path(key_id, ".key.pem")
            if not p.is_file():
                raise not_found(key_id)
            key = serialization.load_pem_private_key(p.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise KeyCustodyError("keys.unsupported_key", "Loại khoá không được hỗ trợ.",
                                      "Unsupported key type.", details={"key_id": key_id})
            self.key_loads += 1
            self._keys[key_id] = key
            return key

    def _key_ids(self) -> list[str]:
        return sorted(p.name[: -len(".key.pem")] for p in self.root.glob("*.key.pem"))

    # --- KeyStore ------------------------------------------------------------
    def public_key(self, key_id: str) -> keys.PublicKeyInfo:
        pub = self._private_key(key_id).public_key()
        der = pub.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return keys.PublicKeyInfo.load(der)

    def _current_cert(self, key_id: str) -> x509.Certificate | None:
        certs = _load_pem_certs(self._path(key_id, ".crt.pem"))
        return certs[0] if certs else None

    def certificate(self, key_id: str) -> x509.Certificate:
        if not self._path(key_id, ".key.pem").is_file():
            raise not_found(key_id)
        cert = self._current_cert(key_id)
        if cert is None:
            raise certificate_pending(key_id)
        return cert

    def chain(self, key_id: str) -> tuple[x509.Certificate, ...]:
        return tuple(_load_pem_certs(self._path(key_id, ".chain.pem")))

    def list_keys(self) -> list[KeyInfo]:
        raw = []
        for key_id in self._key_ids():
            meta = self._meta(key_id)
            cert = self._current_cert(key_id)
            raw.append((key_id, meta, cert))
        superseded = supersession([
            (k, m.get("practitioner_id"), c.not_valid_before if c else None)
            for k, m, c in raw
        ])
        return [
            describe_key(
                k,
                public_key=self.public_key(k),
                cert=c,
                history=_load_pem_certs(self._path(k, ".history.pem")),
                practitioner_id=m.get("practitioner_id"),
                requested_subject=m.get("requested_subject", ""),
                superseded=k in superseded,
            )
            for k, m, c in raw
        ]

    def key_info(self, key_id: str) -> KeyInfo:
        validate_key_id(key_id)
        for info in self.list_keys():
            if info.key_id == key_id:
                return info
        raise not_found(key_id)

    def signer_for(self, key_id: str, *, pss: bool = False) -> Signer:
        with self._lock:
            signer = self._signers.get((key_id, pss))
            if signer is None:
                cert = self.certificate(key_id)
                check_algorithm(algorithm_of(cert.public_key))  # e.g. a key copied in by hand
                registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
                registry.register_multiple([cert, *self.chain(key_id)])
                signer = CachedKeySigner(self._private_key(key_id), cert, registry,
                                         prefer_pss=pss)
                self._signers[(key_id, pss)] = signer
            return signer

    # --- enrolment -------------------------------------------------------------
    def generate_key(self, key_id: str, algorithm: str, *,
                     subject: x509.Name | None = None) -> keys.PublicKeyInfo:
        kind, param = check_algorithm(algorithm)
        path = self._path(key_id, ".key.pem")
        key: PrivateKey
        if kind == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=int(param))
        else:
            key = ec.generate_private_key(_curve(str(param)))
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        with self._lock:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError as e:
                raise Conflict("keys.exists", f"Khoá '{key_id}' đã tồn tại.",
                               f"Key '{key_id}' already exists.",
                               details={"key_id": key_id}) from e
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self.write_meta(
                key_id, algorithm=algorithm, created=datetime.now(UTC).isoformat(),
                practitioner_id=subject.native.get("serial_number") if subject else None,
                requested_subject=subject.human_friendly if subject else "")
        return self.public_key(key_id)

    def sign_raw(self, key_id: str, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        key = self._private_key(key_id)
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, PKCS1v15(), hash_algo)
        return key.sign(data, ec.ECDSA(hash_algo))

    def store_certificate(
        self, key_id: str, cert: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> None:
        with self._lock:
            previous = self._current_cert(key_id)
            if previous is not None and previous.dump() != cert.dump():
                with self._path(key_id, ".history.pem").open("ab") as fh:
                    fh.write(_pem(previous))
            self._path(key_id, ".crt.pem").write_bytes(_pem(cert))
            if chain:
                self._path(key_id, ".chain.pem").write_bytes(b"".join(_pem(c) for c in chain))
            self._signers = {k: v for k, v in self._signers.items() if k[0] != key_id}


def _curve(name: str) -> ec.EllipticCurve:
    return {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(),
            "secp521r1": ec.SECP521R1()}[name]
