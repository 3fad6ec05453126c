"""HSM key store over PKCS#11, through pyHanko's ``PKCS11Signer``.

Conventions on the token (the same as ``scripts/softhsm_provision.py``):
a key pair's ``CKA_LABEL`` is its ``key_id`` and its ``CKA_ID`` the UTF-8 of
that label; the current certificate carries the same label and id; a
replaced certificate is relabelled ``{key_id}#{serial hex}`` (kept for
verifying old signatures); CA certificates sit beside them. Private keys are
generated on the token with ``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE``
false, and no code path reads private key material.

ECDSA signs with the raw ``CKM_ECDSA`` mechanism over a software hash
(SoftHSM 2.6.1 has no ``CKM_ECDSA_SHA256``); RSA uses ``CKM_SHA256_RSA_PKCS``
or, with ``pss=True``, ``CKM_SHA256_RSA_PKCS_PSS``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pkcs11
from asn1crypto import algos, keys, x509
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key
from pkcs11.util.x509 import decode_x509_certificate
from pyhanko.sign.pkcs11 import PKCS11Signer, select_pkcs11_signing_params
from pyhanko.sign.signers import Signer

from core.errors import Conflict, HsbaError
from hsm.keystore import (
    KeyInfo,
    algorithm_of,
    certificate_pending,
    chain_for,
    check_algorithm,
    describe_key,
    not_found,
    supersession,
    validate_key_id,
)
from hsm.pkcs11_pool import PooledSession, SessionPool

__all__ = ["Pkcs11Keystore", "PooledPkcs11Signer"]


class PooledPkcs11Signer(PKCS11Signer):
    """pyHanko's ``PKCS11Signer`` whose raw signatures go through a :class:`SessionPool`
    (no session of its own; the certificate and chain are given up front)."""

    def __init__(self, pool: SessionPool, key_id: str, cert: x509.Certificate,
                 chain: Sequence[x509.Certificate], *, prefer_pss: bool,
                 use_raw_mechanism: bool) -> None:
        super().__init__(
            pkcs11_session=None,  # type: ignore[arg-type]
            key_label=key_id, key_id=key_id.encode(), signing_cert=cert, ca_chain=list(chain),
            prefer_pss=prefer_pss, use_raw_mechanism=use_raw_mechanism, other_certs_to_pull=(),
        )
        self._pool = pool
        self._loaded = True  # nothing to pull from the token: the pool finds the key

    def _load_objects(self) -> None:
        return None

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self.estimate_raw_signature_size_bytes())
        spec = self._select_pkcs11_signing_params(digest_algorithm,
                                                  sign_kwargs=self.sign_kwargs(data))
        if spec.pre_sign_transform is not None:
            data = spec.pre_sign_transform(data)
        label = str(self.key_label)

        def _sign(pooled: PooledSession) -> bytes:
            signature: bytes = pooled.private_key(label).sign(data, **spec.sign_kwargs)
            if spec.post_sign_transform is not None:
                signature = spec.post_sign_transform(signature)
            return signature

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self._pool.run(_sign, what="sign"))


def _public_key_info(obj: Any) -> keys.PublicKeyInfo:
    if obj.key_type == KeyType.RSA:
        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": "rsa"},
            "public_key": keys.RSAPublicKey.load(encode_rsa_public_key(obj)),
        })
    return keys.PublicKeyInfo.load(encode_ec_public_key(obj))


class Pkcs11Keystore:
    """Keys on a PKCS#11 token (an HSM; SoftHSM2 in tests), with pooled sessions."""

    def __init__(self, module: str, token_label: str, user_pin: str, *,
                 pool_size: int = 4, ecdsa_raw: bool = True) -> None:
        self.module = module
        self.token_label = token_label
        self.pool = SessionPool(module, token_label, user_pin, size=pool_size)
        self.ecdsa_raw = ecdsa_raw
        self._lock = threading.Lock()
        self._signers: dict[tuple[str, bool], Signer] = {}
        self._public_keys: dict[str, keys.PublicKeyInfo] = {}

    # --- token reading --------------------------------------------------------
    def _certs(self) -> list[tuple[str, x509.Certificate]]:
        def _read(pooled: PooledSession) -> list[tuple[str, x509.Certificate]]:
            return [(str(o[Attribute.LABEL]), x509.Certificate.load(bytes(o[Attribute.VALUE])))
                    for o in list(pooled.session.get_objects(
                        {Attribute.CLASS: ObjectClass.CERTIFICATE}))]
        return self.pool.run(_read, what="read certificates")

    def _key_meta(self) -> dict[str, dict[str, Any]]:
        def _read(pooled: PooledSession) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for o in list(pooled.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
                label = str(o[Attribute.LABEL])
                try:
                    subject = bytes(o[Attribute.SUBJECT])
                except pkcs11.exceptions.PKCS11Error:
                    subject = b""
                out[label] = {"subject": x509.Name.load(subject) if subject else None}
            return out
        return self.pool.run(_read, what="list keys")

    def public_key(self, key_id: str) -> keys.PublicKeyInfo:
        validate_key_id(key_id)
        with self._lock:
            cached = self._public_keys.get(key_id)
        if cached is not None:
            return cached
        found = self._read_public_key(key_id)
        with self._lock:
            self._public_keys[key_id] = found
        return found

    def _read_public_key(self, key_id: str) -> keys.PublicKeyInfo:
        def _read(pooled: PooledSession) -> keys.PublicKeyInfo | None:
            # always exhaust a search: an abandoned one is finalised later, from any thread
            found = list(pooled.session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                                                     Attribute.LABEL: key_id}))
            return _public_key_info(found[0]) if found else None
        found = self.pool.run(_read, what="read public key")
        if found is not None:
            return found
        return self.certificate(key_id).public_key

    def certificate(self, key_id: str) -> x509.Certificate:
        validate_key_id(key_id)
        for label, cert in self._certs():
            if label == key_id:
                return cert
        if key_id not in self._key_meta():
            raise not_found(key_id)
        raise certificate_pending(key_id)

    def chain(self, key_id: str) -> tuple[x509.Certificate, ...]:
        certs = self._certs()
        return chain_for(self.certificate(key_id), [c for _, c in certs])

    def list_keys(self) -> list[KeyInfo]:
        metas = self._key_meta()
        certs = self._certs()
        current = {label: c for label, c in certs if label in metas}
        history: dict[str, list[x509.Certificate]] = {}
        for label, c in certs:
            if "#" in label:
                history.setdefault(label.split("#", 1)[0], []).append(c)
        infos = []
        for key_id in sorted(metas):
            requested = metas[key_id]["subject"]
            cert = current.get(key_id)
            pid = None
            if requested is not None:
                pid = requested.native.get("serial_number")
            infos.append((key_id, pid, cert, requested))
        superseded = supersession([
            (k, p or (c.subject.native.get("serial_number") if c else None),
             c.not_valid_before if c else None)
            for k, p, c, _ in infos])
        return [
            describe_key(
                k,
                public_key=c.public_key if c is not None else self._maybe_public_key(k),
                cert=c,
                history=sorted(history.get(k, []), key=lambda h: h.not_valid_before),
                practitioner_id=p,
                requested_subject=r.human_friendly if r is not None else "",
                superseded=k in superseded,
            )
            for k, p, c, r in infos
        ]

    def _maybe_public_key(self, key_id: str) -> keys.PublicKeyInfo | None:
        try:
            return self.public_key(key_id)
        except HsbaError:  # a private key alone on the token (no public key, no certificate)
            return None

    def key_info(self, key_id: str) -> KeyInfo:
        validate_key_id(key_id)
        for info in self.list_keys():
            if info.key_id == key_id:
                return info
        raise not_found(key_id)

    # --- signing --------------------------------------------------------------
    def signer_for(self, key_id: str, *, pss: bool = False) -> Signer:
        with self._lock:
            signer = self._signers.get((key_id, pss))
        if signer is None:
            cert = self.certificate(key_id)
            check_algorithm(algorithm_of(cert.public_key))  # e.g. a key provisioned elsewhere
            is_ec = cert.public_key.algorithm == "ec"
            signer = PooledPkcs11Signer(self.pool, key_id, cert, self.chain(key_id),
                                        prefer_pss=pss, use_raw_mechanism=is_ec and self.ecdsa_raw)
            with self._lock:
                signer = self._signers.setdefault((key_id, pss), signer)
        return signer

    def sign_raw(self, key_id: str, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        pub = self.public_key(key_id)
        is_ec = pub.algorithm == "ec"
        mech = algos.SignedDigestAlgorithm(
            {"algorithm": f"{digest_algorithm}_{'ecdsa' if is_ec else 'rsa'}"})
        spec = select_pkcs11_signing_params(mech, digest_algorithm,
                                            use_raw_mechanism=is_ec and self.ecdsa_raw,
                                            sign_kwargs={})
        payload = spec.pre_sign_transform(data) if spec.pre_sign_transform else data

        def _sign(pooled: PooledSession) -> bytes:
            sig: bytes = pooled.private_key(key_id).sign(payload, **spec.sign_kwargs)
            return spec.post_sign_transform(sig) if spec.post_sign_transform else sig
        return self.pool.run(_sign, what="sign")

    # --- enrolment ------------------------------------------------------------
    def generate_key(self, key_id: str, algorithm: str, *,
                     subject: x509.Name | None = None) -> keys.PublicKeyInfo:
        """Generate the key pair ON the token: sensitive, non-extractable, signing only."""
        validate_key_id(key_id)
        kind, param = check_algorithm(algorithm)
        if key_id in self._key_meta():
            raise Conflict("keys.exists", f"Khoá '{key_id}' đã tồn tại.",
                           f"Key '{key_id}' already exists.", details={"key_id": key_id})
        common: dict[Attribute, Any] = {Attribute.TOKEN: True}
        if subject is not None:
            common[Attribute.SUBJECT] = subject.dump()
        private = {**common, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                   Attribute.SIGN: True, Attribute.PRIVATE: True}
        public = {**common, Attribute.VERIFY: True}

        def _gen(pooled: PooledSession) -> keys.PublicKeyInfo:
            s = pooled.session
            if kind == "rsa":
                pub, _ = s.generate_keypair(
                    KeyType.RSA, int(param), id=key_id.encode(), label=key_id, store=True,
                    public_template=public,
                    private_template={**private, Attribute.DECRYPT: False,
                                      Attribute.UNWRAP: False})
            else:
                params = s.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(str(param))},
                    local=True)
                pub, _ = params.generate_keypair(
                    id=key_id.encode(), label=key_id, store=True, public_template=public,
                    private_template={**private, Attribute.DERIVE: False})
            return _public_key_info(pub)
        public_key = self.pool.run(_gen, what="generate key")
        with self._lock:
            self._public_keys[key_id] = public_key
        return public_key

    def store_certificate(self, key_id: str, cert: x509.Certificate,
                          chain: Sequence[x509.Certificate] = ()) -> None:
        """Write the certificate on the token under the key's label; the previous one
        is relabelled ``{key_id}#{serial}`` and kept; missing CA certificates are added."""
        validate_key_id(key_id)
        if key_id not in self._key_meta():
            raise not_found(key_id)
        present = {c.sha256 for _, c in self._certs()}

        def _store(pooled: PooledSession) -> None:
            s = pooled.session
            for old in list(s.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                           Attribute.LABEL: key_id})):
                old_cert = x509.Certificate.load(bytes(old[Attribute.VALUE]))
                if old_cert.sha256 == cert.sha256:
                    return
                old[Attribute.LABEL] = f"{key_id}#{old_cert.serial_number:x}"
            attrs = decode_x509_certificate(cert.dump())
            attrs.update({Attribute.TOKEN: True, Attribute.LABEL: key_id,
                          Attribute.ID: key_id.encode()})
            s.create_object(attrs)
            for ca in chain:
                if ca.sha256 in present:
                    continue
                ca_attrs = decode_x509_certificate(ca.dump())
                label = f"ca-{ca.sha256.hex()[:16]}"
                ca_attrs.update({Attribute.TOKEN: True, Attribute.LABEL: label,
                                 Attribute.ID: label.encode()})
                s.create_object(ca_attrs)
        self.pool.run(_store, what="store certificate")
        with self._lock:
            self._signers = {k: v for k, v in self._signers.items() if k[0] != key_id}

    def close(self) -> None:
        self.pool.close()
