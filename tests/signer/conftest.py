"""Fixtures of the signing engine's tests: a real certomancer PKI served over HTTP.

``certomancer animate`` (a real HTTP server on 127.0.0.1) answers the OCSP,
CRL and RFC 3161 requests, so the B-T/B-LT/B-LTA paths, the revocation checks
and the TSA failover are exercised over the network like in production.
Signers use keys loaded once (:class:`signer.keys.InMemoryKeySigner`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509
from certomancer.registry import CertomancerConfig, PKIArchitecture
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields

from signer.keys import InMemoryKeySigner
from signer.revocation import OnlineRevocationSource
from signer.timestamps import FailoverTimeStamper, http_timestampers
from tests.signer.pki import ARCH, SIGNERS, write_config

FIELDS = ("doctor", "head_of_department", "patient", "nurse")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SignerPki:
    """The running test PKI."""

    arch: PKIArchitecture
    base_url: str
    config_path: Path
    root: x509.Certificate
    interm: x509.Certificate

    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    def signer(self, label: str, *, prefer_pss: bool = False) -> InMemoryKeySigner:
        key = self.arch.key_set.get_private_key(label)
        chain = [self.arch.get_cert(label), self.interm, self.root]
        return InMemoryKeySigner.from_chain(key, chain, prefer_pss=prefer_pss)

    def revocation(self) -> OnlineRevocationSource:
        return OnlineRevocationSource([self.root], other_certs=[self.interm], timeout_s=5)

    def timestamper(self) -> FailoverTimeStamper:
        return FailoverTimeStamper(http_timestampers([self.tsa_url()], timeout_s=5))

    def write_trust(self, directory: Path) -> tuple[Path, Path]:
        """PEM files of the root and the whole CA set (for openssl)."""
        from asn1crypto import pem

        root = directory / "root.pem"
        root.write_bytes(pem.armor("CERTIFICATE", self.root.dump()))
        cas = directory / "cas.pem"
        cas.write_bytes(
            pem.armor("CERTIFICATE", self.root.dump())
            + pem.armor("CERTIFICATE", self.interm.dump())
        )
        return root, cas


@pytest.fixture(scope="session")
def signer_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignerPki]:
    directory = tmp_path_factory.mktemp("signer-pki")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    path = write_config(directory, base)
    cfg = CertomancerConfig.from_file(str(path), key_search_dir=str(directory))
    arch = cfg.get_pki_arch(ARCH)
    certomancer = Path(sys.executable).parent / "certomancer"
    log = (directory / "animate.log").open("wb")
    proc = subprocess.Popen(
        [str(certomancer), "--config", str(path), "animate", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/{ARCH}/crls/root/latest.crl", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "certomancer animate did not start: "
                        + (directory / "animate.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.2)
        for label in SIGNERS:
            arch.key_set.get_private_key(label)
        yield SignerPki(arch, base, path, arch.get_cert("root"), arch.get_cert("interm"))
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _blank_form() -> bytes:
    """A one-page form with empty signature fields (fallback when templates/ is absent)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter()
    w.insert_page(
        generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
        })
    )
    buf = BytesIO()
    w.write(buf)
    inc = IncrementalPdfFileWriter(BytesIO(buf.getvalue()))
    for i, name in enumerate(FIELDS):
        x = 40 + (i % 2) * 270
        y = 80 + (i // 2) * 110
        fields.append_signature_field(inc, fields.SigFieldSpec(name, box=(x, y, x + 240, y + 90)))
    out = BytesIO()
    inc.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def form_pdf() -> bytes:
    """A clinical form with signature fields ``doctor``, ``patient``...: the forms
    engineer's PDF/A-3b rendering when available, else a blank one-pager."""
    try:
        from templates.render import render_form, sample_data

        rendered = render_form(
            "consent_surgery", sample_data("consent_surgery"),
            document_id="DOC-TEST-1", verify_url="http://127.0.0.1/verify/DOC-TEST-1",
        )
        names = {f.name for f in rendered.signature_fields}
        if {"doctor", "patient"} <= names:
            return rendered.pdf
    except Exception:  # noqa: BLE001, S110 - templates/ still in progress: fall back
        pass
    return _blank_form()
