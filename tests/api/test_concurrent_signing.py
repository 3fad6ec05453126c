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
