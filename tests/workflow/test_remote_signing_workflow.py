"""Workflow documents signed with a clinician's app-confirmed remote key, end to end
over HTTP, on the real PostgreSQL (records index, workflow tables, pending provider
transactions, audit chain) and the real S3 with Object Lock (the archive).

The provider is the SmartCA-shaped provider DOUBLE of ``tests/remote/provider_double.py``
(the real VNPT/Viettel services cannot be reached from here), served over real HTTP; its
subscriber certificate is issued by the same development PKI as hsba's (so revocation
data can be embedded and the archived versions verify). The clinician asks for the
signature of two workflow documents through ``POST /api/v1/remote-signing/requests``;
"confirming in the phone app" is the test calling ``ProviderDouble.confirm``.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = pytest.mark.services

_REMOTE_TESTS = str(Path(__file__).resolve().parents[1] / "remote")
if _REMOTE_TESTS not in sys.path:
    sys.path.insert(0, _REMOTE_TESTS)

from provider_double import SP_ID, SP_PASSWORD, USER_ID, ProviderDouble
from remote_hsba import bearer_headers, remote_hsba

from tests.loopback import LoopbackServer

SECRET = "test-only webhook secret for remote workflow"


@dataclass
class Hsba:
    services: Any
    base: str
    double: ProviderDouble
    logins: dict[str, Any]
    auth: dict[str, dict[str, str]]
    """bearer headers: clinician, head_of_department, other (another hospital's clinician)"""

    @property
    def hook(self) -> str:
        return f"{self.base}/api/v1/remote-signing/callbacks/smartca"

    def actor(self, role: str) -> Any:
        from workflow.access import ActorRef

        return ActorRef.of(self.services.accounts.find("staff", self.logins[role].username))


@pytest.fixture(scope="module")
def hsba(test_services: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsba]:
    from api.app import create_app

    with remote_hsba(test_services, tmp_path_factory.mktemp("remote-workflow"),
                     webhook_secret=SECRET, prefix="hsba_rw_") as r, \
            LoopbackServer(create_app(r.services.settings, services=r.services)) as api:
        logins, other = r.logins, r.other
        h = Hsba(r.services, api.url, r.double, logins, {
            "clinician": bearer_headers(api.url, logins["clinician"]),
            "head_of_department": bearer_headers(api.url, logins["head_of_department"]),
            "other": bearer_headers(api.url, other["clinician"]),
            "admin": bearer_headers(api.url, logins["admin"]),
            "other_admin": bearer_headers(api.url, other["admin"])})
        # each hospital's administrator binds its clinician to the subscriber id
        _bind(h, "admin", h.actor("clinician").subject, USER_ID)
        other_id = r.services.accounts.find("staff", other["clinician"].username).id
        _bind(h, "other_admin", other_id, USER_ID)
        yield h


def _bind(h: Hsba, admin: str, account_id: str, user_id: str) -> httpx.Response:
    r = httpx.put(f"{h.base}/api/v1/remote-signing/subscribers/{account_id}",
                  headers=h.auth[admin], json={"user_id": user_id}, timeout=60)
    assert r.status_code == 200, r.text
    return r


def _new_discharge(h: Hsba) -> Any:
    from templates.render import sample_data

    doctor = h.actor("clinician")
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    data = sample_data("discharge_paper")
    data["encounter"] = {**data["encounter"],
                         "admission_time": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                         "discharge_time": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    return h.services.documents.create(doctor, form_code="discharge_paper", data=data,
                                       care_team=[doctor.practitioner_id],
                                       department=doctor.department)


def _etag(view: Any) -> str:
    return f'"{view.id}.v{view.version}.{view.sha256[:16]}"'


def _ask(h: Hsba, docs: list[Any], *, who: str = "clinician", extra: list[Any] = ()
         ) -> httpx.Response:
    items = [{"document_id": d.id, "if_match": _etag(d) if i % 2 else d.sha256}
             for i, d in enumerate(docs)]
    return httpx.post(f"{h.base}/api/v1/remote-signing/requests", headers=h.auth[who],
                      timeout=120, json={"user_id": USER_ID, "signer_name": "Phạm Thị Thử",
                                         "documents": [*items, *extra]})


def _tran_code(h: Hsba, transaction_id: str) -> str:
    return next(code for code, tx in h.double.transactions.items()
                if tx["transaction_id"] == transaction_id)


def _state(h: Hsba, transaction_id: str, who: str = "clinician") -> httpx.Response:
    return httpx.get(f"{h.base}/api/v1/remote-signing/requests/{transaction_id}",
                     headers=h.auth[who], timeout=60)


def _states(h: Hsba, transaction_id: str) -> dict[str, dict[str, Any]]:
    r = _state(h, transaction_id)
    assert r.status_code == 200, r.text
    return {s["document_id"]: s for s in r.json()["states"]}


def _versions(h: Hsba, document_id: str) -> list[Any]:
    return h.services.index.versions(document_id)


def _assert_signed_by_remote_key(h: Hsba, document_id: str, transaction_id: str) -> None:
    """One new version, archived in the WORM store, verifying VALID, the doctor step
    signed with method remote_signing, the form waiting for the head of department."""
    from signer.verify import verify_pdf
    from workflow.views import InboxFilters, awaiting_my_signature

    wf = h.services.documents
    head = h.actor("head_of_department")
    view = wf.get(head, document_id, audit=False)
    assert view.version == 1 and view.status == "awaiting_signatures"
    steps = {r.role: r for r in view.signature_requests}
    assert steps["doctor"].status == "signed" and steps["doctor"].method == "remote_signing"
    assert steps["doctor"].signed_by == h.actor("clinician").subject
    assert steps["director"].status == "pending"
    versions = _versions(h, document_id)
    assert [v.sha256 for v in versions] == [view.sha256]  # archived once
    assert versions[0].reason == "B-LT:doctor"
    stored = h.services.store.get(versions[0].object_key, versions[0].version_id)
    assert hashlib.sha256(stored).hexdigest() == view.sha256
    report = verify_pdf(stored, trust_roots=h.services.trust_roots, offline=True)
    assert report.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"), report.to_dict()
    assert [s.field_name for s in report.signatures] == ["doctor"]
    inbox = awaiting_my_signature(h.services, head, InboxFilters())
    assert document_id in {i.id for i in inbox}
    entries = [e for e in h.services.audit.entries(limit=100_000)
               if e.action == "sign" and e.object_id == document_id
               and "outcome" not in e.details]
    assert [(e.actor_id, e.details.get("method")) for e in entries] == [
        (h.actor("clinician").subject, "remote_signing")]
    assert transaction_id


def test_two_documents_confirmed_once_are_archived_by_the_webhook_once(hsba: Hsba) -> None:
    h = hsba
    a, b = _new_discharge(h), _new_discharge(h)
    from tests.pdfs import one_page_pdf

    raw_pdf = one_page_pdf()  # a hospital system's raw PDF in the same confirmation
    r = _ask(h, [a, b], extra=[{"doc_id": "his-raw-1", "field_name": "his",
                                "pdf_b64": base64.b64encode(raw_pdf).decode()}])
    assert r.status_code == 202, r.text
    body = r.json()
    tx_id = body["transaction_id"]
    assert body["documents"] == ["his-raw-1", a.id, b.id] and body["refused"] == []
    assert {s["state"] for s in body["states"]} == {"awaiting_confirmation"}
    tran_code = _tran_code(h, tx_id)
    assert len(h.double.transactions[tran_code]["sign_files"]) == 3  # one confirmation
    assert _versions(h, a.id) == []  # nothing archived before the confirmation
    h.double.confirm(tran_code)
    r = h.double.notify(tran_code, h.hook, SECRET.encode())
    assert r.status_code == 200, r.text
    states = _states(h, tx_id)
    for doc in (a, b):
        assert states[doc.id]["state"] == "archived", states
        assert states[doc.id]["version"] == 1 and states[doc.id]["archived_version"] == 1
        _assert_signed_by_remote_key(h, doc.id, tx_id)
    full = _state(h, tx_id).json()
    assert sorted(full["signed"]) == ["his-raw-1"]  # the raw PDF comes back, not archived
    assert _versions(h, "his-raw-1") == []
    # settlement delivered twice: refused, nothing archived again
    again = h.double.notify(tran_code, h.hook, SECRET.encode())
    assert again.status_code == 409
    from api.remote.wiring import poll_once

    assert poll_once(h.services)["settled"] == []  # and the polling job finds nothing
    for doc in (a, b):
        assert len(_versions(h, doc.id)) == 1
        assert h.services.documents.get(h.actor("head_of_department"), doc.id,
                                        audit=False).version == 1
    settled = [e for e in h.services.audit.entries(limit=100_000) if e.action == "sign"
               and e.details.get("remote_transaction") == tx_id]
    assert [e.details.get("stage") for e in settled] == ["requested", "settled"]
    # the remote signature certified the form (DocMDP: form filling and signatures)...
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import MDPPerm

    _, pdf = h.services.documents.pdf(h.actor("head_of_department"), a.id)
    assert PdfFileReader(BytesIO(pdf)).embedded_signatures[0].docmdp_level == \
        MDPPerm.FILL_FORMS
    # ...and the head of department, next in the policy, completes it with the HSM key
    from signer.verify import verify_pdf

    done = h.services.documents.sign(h.actor("head_of_department"), a.id,
                                     pin=h.logins["head_of_department"].signing_pin)
    assert done.document.status == "archived" and done.level == "B-LTA"
    _, pdf = h.services.documents.pdf(h.actor("head_of_department"), a.id)
    report = verify_pdf(pdf, trust_roots=h.services.trust_roots, offline=True)
    assert report.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"), report.to_dict()
    assert [s.field_name for s in report.signatures] == ["doctor", "director"]
    assert [v.reason.split(":")[0] for v in _versions(h, a.id)] == ["B-LT", "B-LTA"]


def test_the_polling_job_settles_and_archives_when_no_webhook_comes(hsba: Hsba) -> None:
    from api.remote.wiring import poll_once

    h = hsba
    a, b = _new_discharge(h), _new_discharge(h)
    r = _ask(h, [a, b])
    assert r.status_code == 202, r.text
    tx_id = r.json()["transaction_id"]
    assert poll_once(h.services)["settled"] == []  # still waiting for the signer
    h.double.confirm(_tran_code(h, tx_id))
    assert poll_once(h.services)["settled"] == [tx_id]
    for doc in (a, b):
        assert _states(h, tx_id)[doc.id]["state"] == "archived"
        _assert_signed_by_remote_key(h, doc.id, tx_id)
    assert poll_once(h.services)["settled"] == []
    assert all(len(_versions(h, d.id)) == 1 for d in (a, b))


def test_a_document_signed_meanwhile_by_hsm_is_refused_and_not_archived(hsba: Hsba) -> None:
    h = hsba
    a, b = _new_discharge(h), _new_discharge(h)
    r = _ask(h, [a, b])
    assert r.status_code == 202, r.text
    tx_id = r.json()["transaction_id"]
    # while the phone waits, the same doctor signs document a with the HSM key
    h.services.documents.sign(h.actor("clinician"), a.id,
                              pin=h.logins["clinician"].signing_pin)
    tran_code = _tran_code(h, tx_id)
    h.double.confirm(tran_code)
    assert h.double.notify(tran_code, h.hook, SECRET.encode()).status_code == 200
    states = _states(h, tx_id)
    assert states[a.id]["state"] == "refused", states
    assert states[a.id]["code"] == "remote.document_changed"
    assert "KHÔNG" in states[a.id]["message_vi"] and "NOT" in states[a.id]["message_en"]
    assert states[b.id]["state"] == "archived"
    view = h.services.documents.get(h.actor("clinician"), a.id, audit=False)
    assert view.version == 1  # only the HSM signature
    doctor = next(s for s in view.signature_requests if s.role == "doctor")
    assert doctor.method == "hsm_key"
    assert len(_versions(h, a.id)) == 1


@pytest.mark.parametrize(("ending", "status"), [("reject", "rejected"), ("expire", "expired")])
def test_a_rejected_or_expired_transaction_archives_nothing(hsba: Hsba, ending: str,
                                                            status: str) -> None:
    h = hsba
    a, b = _new_discharge(h), _new_discharge(h)
    r = _ask(h, [a, b])
    assert r.status_code == 202, r.text
    tx_id = r.json()["transaction_id"]
    tran_code = _tran_code(h, tx_id)
    getattr(h.double, ending)(tran_code)
    r = h.double.notify(tran_code, h.hook, SECRET.encode())
    assert r.status_code == 200 and r.json()["status"] == status, r.text
    states = _states(h, tx_id)
    for doc in (a, b):
        assert states[doc.id]["state"] == "not_signed"
        assert _versions(h, doc.id) == []
        view = h.services.documents.get(h.actor("clinician"), doc.id, audit=False)
        assert view.version == 0 and all(s.status == "pending"
                                         for s in view.signature_requests)


def test_refusals_at_the_request_and_another_hospital(hsba: Hsba) -> None:
    h = hsba
    a, b = _new_discharge(h), _new_discharge(h)
    before = len(h.double.transactions)
    # a stale version and another hospital's account: nothing sent to the provider
    stale = httpx.post(f"{h.base}/api/v1/remote-signing/requests", headers=h.auth["clinician"],
                       timeout=60, json={"user_id": USER_ID, "documents": [
                           {"document_id": a.id, "if_match": "0" * 64}]})
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "remote.nothing_to_sign"
    assert stale.json()["details"]["refused"][a.id]["code"] == "document.changed"
    foreign = _ask(h, [a, b], who="other")
    assert foreign.status_code == 409, foreign.text
    assert {v["code"] for v in foreign.json()["details"]["refused"].values()} == {
        "document.not_found"}
    assert len(h.double.transactions) == before
    # one stale among two: the other is sent, the stale one listed with its reason
    r = httpx.post(f"{h.base}/api/v1/remote-signing/requests", headers=h.auth["clinician"],
                   timeout=60, json={"user_id": USER_ID, "documents": [
                       {"document_id": a.id, "if_match": "0" * 64},
                       {"document_id": b.id, "if_match": b.sha256}]})
    assert r.status_code == 202, r.text
    tx_id = r.json()["transaction_id"]
    assert r.json()["documents"] == [b.id]
    assert [x["document_id"] for x in r.json()["refused"]] == [a.id]
    # another hospital's clinician neither sees nor settles it
    assert _state(h, tx_id, who="other").status_code == 404
    tran_code = _tran_code(h, tx_id)
    h.double.confirm(tran_code)
    assert h.double.notify(tran_code, h.hook, b"another hospital's guess").status_code == 401
    assert _states(h, tx_id)[b.id]["state"] == "awaiting_confirmation"
    assert h.double.notify(tran_code, h.hook, SECRET.encode()).status_code == 200
    assert _states(h, tx_id)[b.id]["state"] == "archived"
    assert _versions(h, a.id) == []


class _ProcessDied(BaseException):
    """Stands for the process being killed at this point (not an ``Exception``: nothing
    in hsba may catch and record it)."""


def test_a_crash_between_settlement_and_archive_is_repaired_once(
        hsba: Hsba, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from api.remote.wiring import app_confirmed_signing, provider_client
    from hsm.remote.smartca import parse_result
    from workflow.remote_signing import take_over, take_over_unfinished

    h = hsba
    a, b = _new_discharge(h), _new_discharge(h)
    r = _ask(h, [a, b])
    tx_id = r.json()["transaction_id"]
    tran_code = _tran_code(h, tx_id)
    h.double.confirm(tran_code)
    signing = app_confirmed_signing(h.services, provider_client(h.services.settings))
    # settled (stored), then the process dies before the workflow took it over
    outcome = asyncio.run(signing.apply(tx_id, parse_result(h.double.notification(tran_code))))
    assert outcome.settled_now and outcome.status == "completed"
    assert _states(h, tx_id)[a.id]["state"] == "archiving"
    # ...and, in a second life, dies again after committing a's version, before its archive
    wf = h.services.documents
    original = type(wf)._after_signature
    monkeypatch.setattr(type(wf), "_after_signature",
                        lambda *a, **k: (_ for _ in ()).throw(_ProcessDied()))
    with pytest.raises(_ProcessDied):
        take_over(h.services, signing.store, tx_id)
    monkeypatch.setattr(type(wf), "_after_signature", original)
    assert wf.get(h.actor("clinician"), a.id, audit=False).version == 1  # committed
    assert _versions(h, a.id) == []  # not archived
    # the repair pass (polling job) finishes both, once
    assert take_over_unfinished(h.services, signing.store, older_than_s=0) == [tx_id]
    assert take_over_unfinished(h.services, signing.store, older_than_s=0) == []
    states = _states(h, tx_id)
    for doc in (a, b):
        assert states[doc.id]["state"] == "archived", states
        _assert_signed_by_remote_key(h, doc.id, tx_id)


def test_only_the_clinicians_own_bound_subscriber_id_is_used(hsba: Hsba) -> None:
    """A workflow document goes to the provider only under the subscriber id bound to
    the clinician's account by an administrator of the same hospital; nothing is sent
    otherwise."""
    h = hsba
    a = _new_discharge(h)
    before = len(h.double.transactions)
    r = httpx.post(f"{h.base}/api/v1/remote-signing/requests", headers=h.auth["clinician"],
                   timeout=60, json={"user_id": "079999999999", "documents": [
                       {"document_id": a.id, "if_match": a.sha256}]})
    assert r.status_code == 403 and r.json()["code"] == "remote.subscriber_not_yours", r.text
    head = h.auth["head_of_department"]  # signs with the HSM; no subscriber bound
    r = httpx.post(f"{h.base}/api/v1/remote-signing/requests", headers=head, timeout=60,
                   json={"user_id": USER_ID, "documents": [
                       {"document_id": a.id, "if_match": a.sha256}]})
    assert r.status_code == 403 and r.json()["code"] == "remote.subscriber_not_bound", r.text
    assert len(h.double.transactions) == before
    # binding is the administrator's, of the account's own hospital only
    url = f"{h.base}/api/v1/remote-signing/subscribers/{h.actor('head_of_department').subject}"
    r = httpx.put(url, headers=h.auth["clinician"], json={"user_id": USER_ID}, timeout=60)
    assert r.status_code == 403, r.text
    r = httpx.put(url, headers=h.auth["other_admin"], json={"user_id": USER_ID}, timeout=60)
    assert r.status_code == 404, r.text
    from api.remote.pending_db import SubscriberBindings

    assert SubscriberBindings(h.services.engine).user_id(
        h.actor("head_of_department").subject) is None


def test_embedded_default_in_process_polling_archives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded default (SQLite index, filesystem WORM store, file pending store), no
    webhook: the API process's own scheduler polls the provider, settles the confirmed
    transaction and the workflow archives the document."""
    import time

    from api.app import create_app
    from core.settings import get_settings, reset_settings_cache
    from hsm.dev_pki import DevPki
    from workflow.seeding import seed_demo
    from workflow.services import Services

    data_dir = tmp_path / "var"
    data_dir.mkdir()
    DevPki.load_or_create(data_dir)
    double = ProviderDouble(data_dir)
    with LoopbackServer(double.app) as provider:
        for name in [n for n in __import__("os").environ if n.startswith("HSBA_")]:
            monkeypatch.delenv(name)
        for name, value in {
            "HSBA_ENV": "test", "HSBA_DATA_DIR": str(data_dir),
            "HSBA_CONFIG": str(tmp_path / "none.toml"), "HSBA_REMOTE_PROVIDER": "smartca",
            "HSBA_REMOTE_PROVIDER_URL": provider.url, "HSBA_REMOTE_SP_ID": SP_ID,
            "HSBA_REMOTE_SP_SECRET": SP_PASSWORD, "HSBA_REMOTE_WEBHOOK": "false",
            "HSBA_REMOTE_POLL_EVERY_S": "1", "HSBA_REMOTE_POLL_OLDER_THAN_S": "0",
        }.items():
            monkeypatch.setenv(name, value)
        reset_settings_cache()
        try:
            seeder = Services.from_settings(get_settings())
            try:
                logins = {x.role: x for x in seed_demo(seeder) if x.kind == "staff"}
            finally:
                seeder.close()
            with LoopbackServer(create_app(get_settings())) as api:
                services = api.server.config.app.state.services
                h = Hsba(services, api.url, double, logins, {
                    "clinician": bearer_headers(api.url, logins["clinician"]),
                    "admin": bearer_headers(api.url, logins["admin"])})
                _bind(h, "admin", h.actor("clinician").subject, USER_ID)
                doc = _new_discharge(h)
                r = _ask(h, [doc])
                assert r.status_code == 202, r.text
                tx_id = r.json()["transaction_id"]
                h.double.confirm(_tran_code(h, tx_id))
                deadline = time.monotonic() + 90
                while _states(h, tx_id)[doc.id]["state"] != "archived":
                    assert time.monotonic() < deadline, _states(h, tx_id)
                    time.sleep(0.5)
                view = services.documents.get(h.actor("clinician"), doc.id, audit=False)
                assert view.version == 1 and len(_versions(h, doc.id)) == 1
                assert services.settings.effective_database_url.startswith("sqlite")
        finally:
            reset_settings_cache()


def test_a_signature_from_an_untrusted_provider_certificate_is_not_archived(
        hsba: Hsba, tmp_path: Path) -> None:
    """The provider returns a signature whose certificate chains to no trust anchor of
    the hospital (here: a second double with a PKI of its own): the document is
    refused with ``remote.certificate_not_trusted``, nothing is committed or archived."""
    import asyncio

    from api.remote.pending_db import DbPendingStore
    from hsm.remote.async_provider import AppConfirmedSigning
    from hsm.remote.smartca import SmartCaClient
    from workflow import remote_signing as wfr

    h = hsba
    doc = _new_discharge(h)
    stranger = ProviderDouble(tmp_path / "foreign-pki")
    with LoopbackServer(stranger.app) as server:
        signing = AppConfirmedSigning(SmartCaClient(server.url, SP_ID, SP_PASSWORD),
                                      DbPendingStore(h.services.engine))
        doctor = h.actor("clinician")
        cert = asyncio.run(signing.certificate(USER_ID))
        plans, refused = wfr.plan_documents(h.services, doctor, [(doc.id, doc.sha256)],
                                            certificate=cert[0])
        assert refused == {}
        tx = asyncio.run(signing.request(
            USER_ID, wfr.documents_to_sign(h.services, plans), certificate=cert,
            context=wfr.context_for(doctor, plans, refused)))
        stranger.confirm(tx.tran_code)
        outcome = asyncio.run(signing.complete(tx.transaction_id))
    assert outcome.status == "completed"
    result = wfr.take_over(h.services, signing.store, tx.transaction_id)
    assert result[doc.id]["state"] == "refused"
    assert result[doc.id]["code"] == "remote.certificate_not_trusted"
    assert h.services.documents.get(doctor, doc.id, audit=False).version == 0
    assert _versions(h, doc.id) == []
    assert wfr.take_over_unfinished(h.services, signing.store, older_than_s=0) == []
