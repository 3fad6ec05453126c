"""Concurrent signings over the API on the real-services profile (issue 8).

Sixteen hospital-system clients create a document and have the doctor sign it
to B-LTA at the same time, on PostgreSQL, SeaweedFS S3 Object Lock, the
SoftHSM2 token and the certomancer TSA over HTTP: no request may end in a 5xx,
every document is archived once per signed version, and the audit chain stays
intact (this once ended in a 500 with a KeyError under load).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import ApiLimits
from workflow.seeding import seed_demo
from workflow.services import Services

TOKEN_KEYS = {"bs.an": "doctor-an", "bs.binh": "doctor-binh-ec", "dd.cuc": "nurse-chi",
              "seal": "seal"}
FORM = "outpatient_record_15bv1"
CLIENTS = 16


@pytest.fixture
def real_api(real_services_settings: Any) -> Iterator[tuple[TestClient, Services, dict[str, Any]]]:
    services = Services.from_settings(real_services_settings)
    logins = {x.role: x for x in seed_demo(services, key_ids=TOKEN_KEYS)}
    app = create_app(real_services_settings, services=services,
                     limits=ApiLimits(rate_per_s=1000, burst=5000))
    try:
        with TestClient(app) as client:
            yield client, services, logins
    finally:
        services.close()


def _form_data() -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from templates.render import sample_data

    data = sample_data(FORM)
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    enc = dict(data.get("encounter") or {})
    enc["admission_time"] = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    enc.pop("discharge_time", None)
    data["encounter"] = enc
    return data


@pytest.mark.services
@pytest.mark.slow
def test_sixteen_concurrent_create_sign_archive_never_500(real_api: Any) -> None:
    client, services, logins = real_api
    doctor, his = logins["clinician"], logins["integration"]
    tok_his = client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": his.username,
        "client_secret": his.secret}).json()["access_token"]
    r = client.post("/api/v1/auth/login", json={
        "username": doctor.username, "password": doctor.secret,
        "totp": pyotp.TOTP(doctor.totp_secret).now()})
    assert r.status_code == 200, r.text
    tok_doc = r.json()["access_token"]
    data = _form_data()
    statuses: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def one(i: int) -> str | None:
        barrier.wait()
        r = client.post("/api/v1/documents", headers={
            "Authorization": f"Bearer {tok_his}", "Idempotency-Key": f"conc-{i}"},
            json={"form_code": FORM, "data": data, "care_team": [doctor.practitioner_id],
                  "department": doctor.department})
        with lock:
            statuses.append(("create", r.status_code, r.text[:300]))
        if r.status_code != 201:
            return None
        doc = r.json()
        r = client.post(f"/api/v1/documents/{doc['id']}/sign", headers={
            "Authorization": f"Bearer {tok_doc}", "If-Match": doc["etag"],
            "Idempotency-Key": f"conc-sign-{i}"}, json={"pin": doctor.signing_pin})
        with lock:
            statuses.append(("sign", r.status_code, r.text[:300]))
        if r.status_code != 200:
            return None
        assert r.json()["document"]["status"] == "archived"
        return str(doc["id"])

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        ids = list(pool.map(one, range(CLIENTS)))

    bad = [s for s in statuses if s[1] >= 300]
    assert not bad, bad
    assert all(ids) and len(set(ids)) == CLIENTS
    for doc_id in ids:
        info = services.index.get(doc_id)
        assert info.status == "archived" and info.current_version == 1
    report = services.audit.verify()
    assert report.ok, report.to_dict()


def test_shared_certificates_are_parsed_before_threads_share_them(tmp_settings: Any) -> None:
    """asn1crypto parses lazily and is not thread-safe: sixteen threads touching a fresh
    certificate at once saw KeyError/IndexError (the 500 under load). The services hand
    out signers, TSA and trust anchors fully parsed; then concurrent use is clean."""
    from asn1crypto import x509

    from workflow.services import preparse_asn1

    services = Services.from_settings(tmp_settings)
    try:
        seed_demo(services)
        key_id = services.accounts.find("staff", "bs.an").key_id  # type: ignore[union-attr]
        signer = services.keystore.signer_for(key_id)
        tsa = services.timestampers()[0]
        shared = [signer.signing_cert, *signer.cert_registry, tsa.tsa_cert,
                  *services.trust_roots]
        assert all(c._native is not None for c in shared)  # parsed: nothing lazy left
        der = signer.signing_cert.dump()
    finally:
        services.close()

    errors: list[str] = []

    def touch(cert: x509.Certificate, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            cert.native  # noqa: B018
            cert.critical_extensions  # noqa: B018
            cert["tbs_certificate"]["extensions"].native  # noqa: B018
        except Exception as e:  # noqa: BLE001 - counted
            errors.append(type(e).__name__)

    for _ in range(100):
        cert = x509.Certificate.load(der)
        preparse_asn1(cert)
        barrier = threading.Barrier(CLIENTS)
        threads = [threading.Thread(target=touch, args=(cert, barrier)) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
