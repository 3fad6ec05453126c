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
            self._lock = threading.Lock()

        def _key(self, private_key: Any) -> Any:
            from cryptography.hazmat.primitives import serialization

            der = private_key.dump()
            with self._lock:
                key = self._keys.get(der)
                if key is None:
                    key = self._keys[der] = serialization.load_der_private_key(der, None)
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


def build_app(config: Path, key_root: Path, delay_ms: int) -> LatencyMiddleware:
    import yaml
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig

    cfg = CertomancerConfig(
        yaml.safe_load(config.read_text(encoding="utf-8")), key_search_dir=str(key_root),
        lazy_load_keys=True,  # pyca validates each RSA key for ~0.2 s: load on demand
    )
    install_key_cache()
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
