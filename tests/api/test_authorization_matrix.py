"""Every role × every endpoint, allowed and denied, under the shipped access policy
(``policies/defaults/access.yaml``): the API asks the policy for each action and
enforces the answer. "Allowed" is shown by getting past authorisation (2xx, or a
later check such as a wrong signing factor or a stale hash); "denied" is 403
(or 404 for a patient's record the caller has no relationship with... never
another hospital's, see test_documents_api)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ApiEnv
from workflow.demo import demo_form_data

ROLES = ("clinician", "head_of_department", "nurse", "cashier", "kiosk", "auditor",
         "integration", "admin")
ALLOWED_PAST_AUTHZ = {200, 201, 204, 401, 412, 422}


@pytest.fixture(scope="module")
def document(api_env: ApiEnv) -> dict[str, Any]:
    """A consent form of the surgery department, treating doctor bs.an."""
    r = api_env.client.post("/api/v1/documents", headers=api_env.headers("integration"),
                            json={"form_code": "consent_surgery", "data": demo_form_data("70001"),
                                  "department": api_env.logins["clinician"].department,
                                  "care_team": [api_env.logins["clinician"].practitioner_id]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _calls(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    d = doc["id"]
    wrong_sha = "0" * 64
    return {
        "read": ("GET", f"/api/v1/documents/{d}", {}),
        "versions": ("GET", f"/api/v1/documents/{d}/versions", {}),
        "signature_requests": ("GET", f"/api/v1/documents/{d}/signature-requests", {}),
        "pdf": ("GET", f"/api/v1/documents/{d}/pdf", {}),
        "create": ("POST", "/api/v1/documents",
                   # schema-invalid (no patient) but inside the encounter's window:
                   # an allowed caller gets 422 from the form, a denied one 403
                   {"json": {"form_code": "consent_surgery", "data": {
                       k: v for k, v in demo_form_data("70001").items() if k != "patient"},
                       "care_team": ["__caller__"]}}),
        "sign": ("POST", f"/api/v1/documents/{d}/sign", {"json": {"pin": "wrong",
                                                                   "sha256": wrong_sha}}),
        "confirm": ("POST", f"/api/v1/documents/{d}/patient-confirmation",
                    {"json": {"method": "otp", "signer_name": "x",
                              "patient_ref": doc["patient_ref"], "sha256": wrong_sha,
                              "evidence_sha256": wrong_sha}}),
        "verify": ("POST", "/api/v1/verify",
                   {"files": {"file": ("x.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")}}),
        "search": ("GET", "/api/v1/archive/documents", {}),
        "audit": ("GET", "/api/v1/audit/events", {}),
        "viewers": ("GET", f"/api/v1/documents/{d}/viewers", {}),
        "webhooks": ("GET", "/api/v1/webhooks", {}),
        "fhir_search": ("GET", "/fhir/r4/DocumentReference",
                        {"params": {"patient": doc["patient_ref"]}}),
        "fhir_binary": ("GET", f"/fhir/r4/Binary/{d}", {}),
        "rotate_keys": ("POST", "/api/v1/admin/token-keys/rotate", {}),
    }


#: endpoint -> roles allowed under the shipped policy
EXPECTED: dict[str, set[str]] = {
    "read": {"clinician", "head_of_department", "nurse", "auditor", "integration"},
    "versions": {"clinician", "head_of_department", "nurse", "auditor", "integration"},
    "signature_requests": {"clinician", "head_of_department", "nurse", "auditor",
                           "integration"},
    "pdf": {"clinician", "head_of_department", "auditor", "integration"},
    "create": {"clinician", "head_of_department", "nurse", "integration"},
    "sign": {"clinician", "head_of_department"},
    "confirm": {"clinician", "head_of_department", "kiosk"},
    "verify": {"auditor", "integration"},
    "search": {"auditor", "integration"},
    "audit": {"auditor", "integration"},
    "viewers": {"clinician", "head_of_department", "nurse", "auditor", "integration"},
    "webhooks": {"admin"},
    "fhir_search": {"auditor", "integration"},
    "fhir_binary": {"clinician", "head_of_department", "auditor", "integration"},
    "rotate_keys": {"admin"},
}


def test_every_role_on_every_endpoint(api_env: ApiEnv, document: dict[str, Any]) -> None:
    c = api_env.client
    tokens = {role: api_env.headers(role) for role in ROLES}
    calls = _calls(document)
    assert set(calls) == set(EXPECTED)
    seen: dict[tuple[str, str], int] = {}
    for role in ROLES:
        for name, (method, path, kwargs) in calls.items():
            if name == "rotate_keys" and role == "admin":
                continue  # rotating really rotates: tested in test_auth
            kw = dict(kwargs)
            if name == "create":
                own = api_env.logins[role].practitioner_id or "none"
                kw = {"json": {**kw["json"], "care_team": [own],
                               "department": api_env.logins[role].department}}
            r = c.request(method, path, headers=tokens[role], **kw)
            seen[(role, name)] = r.status_code
            allowed = role in EXPECTED[name]
            if allowed:
                assert r.status_code in ALLOWED_PAST_AUTHZ, (role, name, r.status_code, r.text)
            else:
                assert r.status_code in (403, 404), (role, name, r.status_code, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
    # a refusal is an audit event, never silent
    refused = [e for e in api_env.services.audit.entries(limit=100_000)
               if e.details.get("outcome") == "refused" and e.object_id == document["id"]]
    assert len(refused) >= sum(1 for (role, name), s in seen.items()
                               if s == 403 and name in ("read", "pdf", "sign"))
    # nobody signed anything with a wrong factor or a stale hash
    after = c.get(f"/api/v1/documents/{document['id']}", headers=tokens["auditor"]).json()
    assert after["version"] == 0 and after["sha256"] == document["sha256"]


def test_without_token_everything_is_401(api_env: ApiEnv, document: dict[str, Any]) -> None:
    for name, (method, path, kwargs) in _calls(document).items():
        r = api_env.client.request(method, path, **kwargs)
        assert r.status_code == 401, (name, r.status_code)
