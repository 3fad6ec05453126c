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
  and the SignedData around each token's own parts is assembled from that DER
  (~3 ms of CPU per token, of which 1 ms is the RSA signature; a production TSA
  signs in an HSM and is not on the machine measured). The token is the same:
  same fields, same certificate, same signed attributes, a fresh serial number,
  time and signature each time.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
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


_TSA_PARTS: dict[bytes, tuple[Any, Any, Any, Any]] = {}
_TSA_PARTS_LOCK = threading.Lock()


def _tsa_parts(tsa_cert: Any, embed: list[Any]) -> tuple[Any, Any, Any, Any]:
    """(GeneralName, SignerIdentifier, ESSCertID, CertificateSet) of a TSA, encoded once."""
    import hashlib

    from asn1crypto import cms, tsp, x509

    certs = {c.sha256: c for c in [*embed, tsa_cert]}
    key = tsa_cert.sha256 + b"".join(sorted(certs))
    with _TSA_PARTS_LOCK:
        parts = _TSA_PARTS.get(key)
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
            # parsed back from their encoding: asn1crypto then reuses the bytes instead
            # of re-encoding the parts (and their names, certificates) in every token
            parts = _TSA_PARTS[key] = (
                x509.GeneralName.load(name.dump()), cms.SignerIdentifier.load(sid.dump()),
                tsp.ESSCertID.load(cert_id.dump()), cms.CertificateSet.load(cert_set.dump()))
    return parts


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


_SEQUENCE, _SET, _OCTETS, _EXPLICIT_0 = 0x30, 0x31, 0x04, 0xA0
_FIXED_DER: dict[tuple[int, str], tuple[bytes, bytes]] = {}


def _fixed_der(cert_set: Any, md_algorithm: str) -> tuple[bytes, bytes]:
    """(digestAlgorithms SET, certificates [0]) of a TSA's SignedData, encoded once."""
    from asn1crypto import algos, cms

    key = (id(cert_set), md_algorithm)  # cert_set: kept for ever in _TSA_PARTS
    with _TSA_PARTS_LOCK:
        fixed = _FIXED_DER.get(key)
        if fixed is None:
            digest_algorithms = cms.DigestAlgorithms(
                (algos.DigestAlgorithm({"algorithm": md_algorithm}),)).dump()
            certificates = cms.SignedData({"certificates": cert_set})["certificates"].dump()
            fixed = _FIXED_DER[key] = (digest_algorithms, certificates)
    return fixed


def _request_tsa_response(self: Any, req: Any) -> Any:
    """certomancer's ``TimeStamper.request_tsa_response`` with its fixed parts cached.

    The per-token parts (TSTInfo, signed attributes, SignerInfo) are built with
    asn1crypto as certomancer does; the SignedData around them is assembled from DER
    encoded once per TSA (asn1crypto copied and re-encoded the certificates into every
    token), and the answer is the same ``TimeStampResp``, parsed from those bytes."""
    import hashlib
    from datetime import UTC, datetime

    from asn1crypto import algos, cms, core, tsp
    from certomancer.services import generic_sign, get_nonce, simple_cms_attribute

    name, sid, cert_id, cert_set = _tsa_parts(self.tsa_cert, self.certs_to_embed)
    digest_algorithms, certificates = _fixed_der(cert_set, self.md_algorithm)
    digest_algorithm = algos.DigestAlgorithm({"algorithm": self.md_algorithm})
    dt = self.fixed_dt or datetime.now(tz=UTC)
    tst_info = {"version": "v1", "policy": self.policy,
                "message_imprint": req["message_imprint"], "serial_number": get_nonce(),
                "gen_time": dt, "tsa": name}
    if isinstance(req["nonce"], core.Integer):
        tst_info["nonce"] = req["nonce"]
    tst_info_data = tsp.TSTInfo(tst_info).dump()
    signed_attrs = cms.CMSAttributes([
        simple_cms_attribute("content_type", "tst_info"),
        simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
        simple_cms_attribute("signing_certificate", tsp.SigningCertificate({"certs": [cert_id]})),
        simple_cms_attribute("message_digest",
                             getattr(hashlib, self.md_algorithm)(tst_info_data).digest()),
    ])
    signer_info = cms.SignerInfo({
        "version": "v1", "sid": sid, "digest_algorithm": digest_algorithm,
        "signature_algorithm": self.signature_algo, "signed_attrs": signed_attrs,
        "signature": generic_sign(self.tsa_key, signed_attrs.dump(), self.signature_algo),
    })
    encap_content_info = _der(_SEQUENCE, cms.ContentType("tst_info").dump()
                              + _der(_EXPLICIT_0, _der(_OCTETS, tst_info_data)))
    signed_data = _der(_SEQUENCE, core.Integer(3).dump() + digest_algorithms
                       + encap_content_info + certificates
                       + _der(_SET, signer_info.dump()))
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
