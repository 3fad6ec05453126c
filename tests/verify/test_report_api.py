"""The printable report an auditor downloads from the API is itself a signed
PDF/A: sealed by the hospital (B-LTA) and verifying VALID against the
service's own trust anchors.

The app runs over the embedded default (SQLite, filesystem WORM store, software
keys, development PKI with its in-process TSA) in a temporary directory: the
same real components the service starts with when nothing else is configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from signer.verify import verify_pdf
from tests.verify import documents
from tests.verify.pki import TestPki


@dataclass
class App:
    client: TestClient
    services: Any
    auditor: dict[str, str]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    from api.app import create_app
    from core.settings import Settings
    from workflow.seeding import seed_demo
    from workflow.services import Services

    settings = Settings(env="test", data_dir=Path(tmp_path_factory.mktemp("hsba-verify-api")),
                        hospital_code="70001", database_url="", store="fs", keystore="software",
                        pki="dev", tsa_urls=[])
    services = Services.from_settings(settings)
    auditor = next(x for x in seed_demo(services) if x.role == "auditor")
    with TestClient(create_app(settings, services=services)) as client:
        r = client.post("/api/v1/auth/login", json={
            "username": auditor.username, "password": auditor.secret,
            "totp": pyotp.TOTP(auditor.totp_secret).now() if auditor.totp_secret else ""})
        assert r.status_code == 200, r.text
        yield App(client, services, {"Authorization": f"Bearer {r.json()['access_token']}"})
    services.close()


def test_downloaded_report_is_sealed_pdfa(app: App, pki: TestPki, signed_form: bytes) -> None:
    from templates.pdfa import check_pdfa

    attacked = documents.shadow_replace_form_field(signed_form)
    r = app.client.post("/api/v1/verify?format=pdf&lang=vi", headers=app.auditor,
                        files={"file": ("phieu.pdf", attacked, "application/pdf")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    report_pdf = r.content
    pdfa = check_pdfa(report_pdf)
    assert pdfa.verdict == "PASS", pdfa

    sealed = verify_pdf(report_pdf, trust_roots=app.services.trust_roots, offline=True)
    assert sealed.verdict == "VALID", sealed.to_dict()
    [seal] = sealed.signatures
    assert seal.field_name == "hospital_seal" and seal.level == "B-LTA"
    assert seal.certificate is not None and "70001" in seal.certificate.subject
    assert sealed.document_timestamps and sealed.pdfa.verdict == "PASS"

    # The sealed report still says what was found in the uploaded file.
    json_report = app.client.post("/api/v1/verify", headers=app.auditor,
                                  files={"file": ("phieu.pdf", attacked, "application/pdf")})
    found = json_report.json()
    assert found["verdict"] == "MODIFIED_AFTER_SIGNING", found
    assert b"MODIFIED_AFTER_SIGNING" in _text(report_pdf), _text(report_pdf)[:3000]


def _text(pdf: bytes) -> bytes:
    import subprocess

    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                          check=True, timeout=30).stdout
