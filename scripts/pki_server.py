"""Serve the hsba TEST PKI over HTTP: certomancer's Animator (TSA, OCSP, CRL, certs).

TEST ONLY. Started by ``scripts/test-services.sh``; listens on 127.0.0.1 only.

This is ``certomancer --config tests/pki/pki.yml --key-root . animate`` with four
additions the test suite and the benchmarks need:

- a threaded server (the stock ``animate`` answers one request at a time);
- an artificial latency before every PKI answer, to make benchmarks realistic:
  ``--delay-ms`` / ``HSBA_TEST_PKI_DELAY_MS`` at start, or at run time with
  ``POST /_hsba/delay?ms=N`` (``GET /_hsba/delay`` reads it);
- ``GET /_hsba/health``, answered without touching the PKI;
- signing keys parsed once: certomancer's crypto backend re-parses (and pyca
  re-validates) the PEM/DER private key for every TSA token, OCSP response and CRL,
  ~60 ms of CPU per token here. A production TSA keeps its key loaded in an HSM;
  the test TSA runs on the same two cores as the code under test, so its per-token
  CPU would count as hsba's latency in the benchmarks. Same signatures, same keys.
- the TSA's fixed parts encoded once: certomancer's ``TimeStamper`` re-encodes its
  own certificate (asn1crypto copies and re-serialises it into the token's
  ``certificates``), subject name and signer identifier for every token, ~20 ms of
  CPU per token on this machine; here they are encoded once per TSA certificate,
  and each token is assembled from that DER and its own few fields (~1.5 ms of CPU
  per token, of which 1 ms is the RSA signature; a production TSA signs in an HSM
  and is not on the machine measured). The token is the same: same fields, same
  certificate, same signed attributes, a fresh serial number, time and signature
  each time (tested against certomancer's own and validated with pyHanko).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LatencyMiddleware:
    """Sleeps ``delay_ms`` before handing a request to the wrapped WSGI app."""

    def __init__(self, app: WsgiApp, delay_ms: int) -> None:
        self.app = app
        self._delay_ms = max(0, delay_ms)
        self._lock = threading.Lock()

    @property
    def delay_ms(self) -> int:
        with self._lock:
            return self._delay_ms

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST":
            from urllib.parse import parse_qs

            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                value = int(query.get("ms", ["0"])[0])
            except ValueError:
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [b"ms must be an integer\n"]
            with self._lock:
                self._delay_ms = max(0, value)
        body = json.dumps({"delay_ms": self.delay_ms}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_hsba/health":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/_hsba/delay":
            return self._control(environ, start_response)
        delay = self.delay_ms
        if delay:
            time.sleep(delay / 1000.0)
        return self.app(environ, start_response)


def install_key_cache() -> None:
    """Make certomancer sign with keys parsed once (see the module docstring)."""
    from certomancer import crypto_utils

    base = crypto_utils.PycaCryptographyBackend

    class CachedKeyBackend(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self._keys: dict[bytes, Any] = {}
            self._by_object: dict[int, tuple[Any, Any]] = {}
            self._lock = threading.Lock()

        def _key(self, private_key: Any) -> Any:
            from cryptography.hazmat.primitives import serialization

            seen = self._by_object.get(id(private_key))
            if seen is not None and seen[0] is private_key:  # certomancer's cached key
                return seen[1]
            der = private_key.dump()
            with self._lock:
                key = self._keys.get(der)
                if key is None:
                    key = self._keys[der] = serialization.load_der_private_key(der, None)
                self._by_object[id(private_key)] = (private_key, key)  # kept: id stays valid
            return key

        def generic_sign(self, private_key: Any, tbs_bytes: bytes, sd_algo: Any) -> bytes:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

            algo = sd_algo.signature_algo
            key = self._key(private_key)
            if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
                digest = getattr(hashes, sd_algo.hash_algo.upper())()
                return bytes(key.sign(tbs_bytes, padding.PKCS1v15(), digest))
            if algo == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
                digest = getattr(hashes, sd_algo.hash_algo.upper())()
                return bytes(key.sign(tbs_bytes, ec.ECDSA(digest)))
            return bytes(super().generic_sign(private_key, tbs_bytes, sd_algo))

    crypto_utils.CRYPTO_BACKEND = CachedKeyBackend()


_TSA_PARTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class _TsaDer:
    """A TSA's fixed parts, DER-encoded once (they are the same in every token)."""

    tsa_name: bytes
    """TSTInfo ``tsa``: [0] EXPLICIT GeneralName (directoryName: the TSA's subject)."""
    signer_id: bytes
    """SignerInfo ``sid``: issuer and serial number of the TSA's certificate."""
    content_type_attr: bytes
    """Signed attribute content-type = id-ct-TSTInfo."""
    signing_certificate_attr: bytes
    """Signed attribute signing-certificate (ESSCertID: SHA-1 of the certificate)."""
    certificates: bytes
    """SignedData ``certificates``: [0] IMPLICIT SET OF the embedded certificates."""


_TSA_DER: dict[bytes, _TsaDer] = {}


def _tsa_der(tsa_cert: Any, embed: list[Any]) -> _TsaDer:
    """The fixed parts of ``tsa_cert``'s tokens, built with asn1crypto once per TSA."""
    import hashlib

    from asn1crypto import cms, tsp, x509
    from certomancer.services import simple_cms_attribute

    certs = {c.sha256: c for c in [*embed, tsa_cert]}
    key = tsa_cert.sha256 + b"".join(sorted(certs))
    with _TSA_PARTS_LOCK:
        parts = _TSA_DER.get(key)
        if parts is None:
            name = x509.GeneralName(name="directory_name",
                                    value=x509.Name.load(tsa_cert.subject.dump()))
            sid = cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
                {"issuer": x509.Name.load(tsa_cert.issuer.dump()),
                 "serial_number": tsa_cert.serial_number})})
            cert_id = tsp.ESSCertID({"cert_hash": hashlib.sha1(tsa_cert.dump()).digest()})
            cert_set = cms.CertificateSet([
                cms.CertificateChoices(name="certificate",
                                       value=x509.Certificate.load(c.dump()))
                for c in certs.values()])
            parts = _TSA_DER[key] = _TsaDer(
                tsa_name=_der(_EXPLICIT_0, name.dump()), signer_id=sid.dump(),
                content_type_attr=simple_cms_attribute("content_type", "tst_info").dump(),
                signing_certificate_attr=simple_cms_attribute(
                    "signing_certificate", tsp.SigningCertificate({"certs": [cert_id]})).dump(),
                certificates=cms.SignedData({"certificates": cert_set})["certificates"].dump())
    return parts


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


_SEQUENCE, _SET, _OCTETS, _EXPLICIT_0 = 0x30, 0x31, 0x04, 0xA0


def _request_tsa_response(self: Any, req: Any) -> Any:
    """certomancer's ``TimeStamper.request_tsa_response``, assembled from DER.

    Same token as certomancer's (same fields in the same order, same certificates, same
    signed attributes in the same order, a fresh serial number, time and signature each
    time), but the TSA's fixed parts are encoded once (:func:`_tsa_der`) and each token
    is concatenated from them and its own few fields: asn1crypto re-encoded the TSA's
    name, certificates and signer identifier for every token. The answer is the
    ``TimeStampResp`` parsed from those bytes."""
    import hashlib
    from datetime import UTC, datetime

    from asn1crypto import algos, cms, core, tsp
    from certomancer.services import generic_sign, get_nonce, simple_cms_attribute

    fixed = _tsa_der(self.tsa_cert, self.certs_to_embed)
    digest_algorithm = algos.DigestAlgorithm({"algorithm": self.md_algorithm}).dump()
    dt = self.fixed_dt or datetime.now(tz=UTC)
    nonce = req["nonce"].dump() if isinstance(req["nonce"], core.Integer) else b""
    policy = (self.policy if isinstance(self.policy, core.ObjectIdentifier)
              else core.ObjectIdentifier(self.policy))
    tst_info = _der(_SEQUENCE, core.Integer(1).dump() + policy.dump()
                    + req["message_imprint"].dump() + core.Integer(get_nonce()).dump()
                    + core.GeneralizedTime(dt).dump() + nonce + fixed.tsa_name)
    attrs = (fixed.content_type_attr
             + simple_cms_attribute("signing_time",
                                    cms.Time({"utc_time": core.UTCTime(dt)})).dump()
             + fixed.signing_certificate_attr
             + simple_cms_attribute("message_digest",
                                    getattr(hashlib, self.md_algorithm)(tst_info).digest()).dump())
    signature = generic_sign(self.tsa_key, _der(_SET, attrs), self.signature_algo)
    signer_info = _der(_SEQUENCE, core.Integer(1).dump() + fixed.signer_id + digest_algorithm
                       + _der(_EXPLICIT_0, attrs)  # [0] IMPLICIT SET: same tag byte
                       + self.signature_algo.dump() + _der(_OCTETS, signature))
    encap_content_info = _der(_SEQUENCE, cms.ContentType("tst_info").dump()
                              + _der(_EXPLICIT_0, _der(_OCTETS, tst_info)))
    signed_data = _der(_SEQUENCE, core.Integer(3).dump() + _der(_SET, digest_algorithm)
                       + encap_content_info + fixed.certificates + _der(_SET, signer_info))
    token = _der(_SEQUENCE, cms.ContentType("signed_data").dump()
                 + _der(_EXPLICIT_0, signed_data))
    granted = tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}).dump()
    return tsp.TimeStampResp.load(_der(_SEQUENCE, granted + token))


def install_tsa_cache() -> None:
    """Make certomancer's TSA encode its fixed parts once (see the module docstring)."""
    from certomancer import services

    services.TimeStamper.request_tsa_response = _request_tsa_response


def build_app(config: Path, key_root: Path, delay_ms: int) -> LatencyMiddleware:
    import yaml
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig

    cfg = CertomancerConfig(
        yaml.safe_load(config.read_text(encoding="utf-8")), key_search_dir=str(key_root),
        lazy_load_keys=True,  # pyca validates each RSA key for ~0.2 s: load on demand
    )
    install_key_cache()
    install_tsa_cache()
    animator = Animator(AnimatorArchStore(cfg.pki_archs), with_web_ui=True)
    return LatencyMiddleware(animator, delay_ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "tests" / "pki" / "pki.yml")
    parser.add_argument("--key-root", type=Path, default=REPO_ROOT)
    parser.add_argument("--port", type=int, default=59000)
    parser.add_argument(
        "--delay-ms", type=int, default=int(os.environ.get("HSBA_TEST_PKI_DELAY_MS", "0") or 0)
    )
    args = parser.parse_args(argv)

    from werkzeug.serving import run_simple

    app = build_app(args.config, args.key_root, args.delay_ms)
    run_simple("127.0.0.1", args.port, app, threaded=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
