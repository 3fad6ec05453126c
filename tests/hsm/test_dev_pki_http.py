"""The development PKI's certificate URLs work over real HTTP with pyhanko-certvalidator's
own online fetchers (requests): OCSP POST, CRL GET and CA certificate GET, as the API
serves them under ``{base_url}/dev-pki/``. The HTTP server here is a plain stdlib one on
127.0.0.1 standing in for the API routes (tested by the API's own tests)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from hsm.dev_pki import DevPki
from hsm.subjects import PractitionerSubject
from tests.loopback import free_port as _free_port


@pytest.fixture()
def served_pki(tmp_path: Path) -> Iterator[tuple[DevPki, list[str]]]:
    port = _free_port()
    pki = DevPki.load_or_create(tmp_path, base_url=f"http://127.0.0.1:{port}")
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _send(self, body: bytes, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            hits.append(self.path)
            if m := re.fullmatch(r"/dev-pki/crl/(issuing|root)\.crl", self.path):
                self._send(pki.crl_der(m.group(1)), "application/pkix-crl")
            elif m := re.fullmatch(r"/dev-pki/certs/(issuing|root)\.crt", self.path):
                self._send(pki.ca_cert_der(m.group(1)), "application/pkix-cert")
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            hits.append(self.path)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self._send(pki.ocsp_response(body), "application/ocsp-response")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pki, hits
    finally:
        server.shutdown()
        server.server_close()


def test_online_fetchers_validate_and_find_revocations(served_pki: tuple[DevPki, list[str]]
                                                       ) -> None:
    pki, hits = served_pki
    subject = PractitionerSubject(name="Đỗ Văn Giang", practitioner_id="bs-giang")
    good = pki.issue_practitioner(ec.generate_private_key(ec.SECP256R1()).public_key(), subject)
    bad = pki.issue_practitioner(ec.generate_private_key(ec.SECP256R1()).public_key(), subject)
    pki.revoke(bad.serial_number)

    def context() -> ValidationContext:
        # no intermediate given: it is fetched from the caIssuers URL
        return ValidationContext(trust_roots=pki.trust_roots, allow_fetching=True,
                                 revocation_mode="require",
                                 fetcher_backend=RequestsFetcherBackend())

    ctx = context()
    asyncio.run(CertificateValidator(good, validation_context=ctx).async_validate_usage(
        {"non_repudiation"}))
    assert ctx.ocsps and ctx.crls
    assert "/dev-pki/ocsp" in hits
    assert "/dev-pki/crl/root.crl" in hits  # the issuing CA's own status
    assert "/dev-pki/certs/issuing.crt" in hits
    with pytest.raises(RevokedError):
        asyncio.run(CertificateValidator(bad, validation_context=context()).async_validate_usage(
            {"non_repudiation"}))
