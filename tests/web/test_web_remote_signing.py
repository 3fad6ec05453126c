"""The clinician's "sign with my remote key (confirm on my phone)" on the web pages,
on the real PostgreSQL (records index, workflow, pending provider transactions, audit)
and the real S3 with Object Lock, with a real browser (Debian chromium via Playwright)
for the whole flow and plain HTTP for the refusals.

The provider is the SmartCA-shaped provider DOUBLE of ``tests/remote/provider_double.py``
(the real VNPT/Viettel services cannot be reached from here), served over real HTTP;
"confirming in the phone app" is the test calling ``ProviderDouble.confirm`` and the
double's signed webhook notification (``ProviderDouble.notify``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest

_REMOTE_TESTS = str(Path(__file__).resolve().parents[1] / "remote")
if _REMOTE_TESTS not in sys.path:
    sys.path.insert(0, _REMOTE_TESTS)

from provider_double import USER_ID, ProviderDouble
from remote_hsba import remote_hsba

from tests.loopback import LoopbackServer

SECRET = "test-only webhook secret for the web remote pages"
BUTTON_VI = "Ký bằng chữ ký số từ xa (xác nhận trên điện thoại)"


@dataclass
class RemoteWeb:
    services: Any
    base: str
    double: ProviderDouble
    logins: dict[str, Any]
    other_logins: dict[str, Any]

    @property
    def hook(self) -> str:
        return f"{self.base}/api/v1/remote-signing/callbacks/smartca"

    def actor(self, role: str, *, other: bool = False) -> Any:
        from workflow.access import ActorRef

        logins = self.other_logins if other else self.logins
        return ActorRef.of(self.services.accounts.find("staff", logins[role].username))

    def new_discharge(self, *, other: bool = False) -> Any:
        """A discharge paper by the (demo or other hospital's) doctor, on a worker thread
        (Playwright's sync API keeps an event loop on the test thread)."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(self._new_discharge, other).result()

    def _new_discharge(self, other: bool) -> Any:
        from templates.render import sample_data

        doctor = self.actor("clinician", other=other)
        now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        data = sample_data("discharge_paper")
        data["encounter"] = {
            **data["encounter"],
            "admission_time": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "discharge_time": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
        return self.services.documents.create(doctor, form_code="discharge_paper", data=data,
                                              care_team=[doctor.practitioner_id],
                                              department=doctor.department)

    def tran_code(self, transaction_id: str) -> str:
        return next(code for code, tx in self.double.transactions.items()
                    if tx["transaction_id"] == transaction_id)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@contextmanager
def web_client(base: str, login: Any, lang: str = "vi") -> Iterator[httpx.Client]:
    """A logged-in web session (cookies) over plain HTTP."""
    with httpx.Client(base_url=base, timeout=120, cookies={"hsba_lang": lang}) as client:
        form = client.get("/web/login")
        r = client.post("/web/login", data={
            "username": login.username, "password": login.secret, "csrf": _csrf(form.text),
            "totp": pyotp.TOTP(login.totp_secret).now() if login.totp_secret else ""})
        assert r.status_code == 303, r.text[:500]
        yield client


@pytest.fixture(scope="module")
def remote_web(test_services: Any, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[RemoteWeb]:
    from api.app import create_app
    from api.remote.pending_db import SubscriberBindings

    with remote_hsba(test_services, tmp_path_factory.mktemp("web-remote"),
                     webhook_secret=SECRET, prefix="hsba_wr_",
                     # settled by the webhook in these tests
                     extra_env={"HSBA_REMOTE_POLL_OLDER_THAN_S": "3600"}) as r, \
            LoopbackServer(create_app(r.services.settings, services=r.services)) as api:
        h = RemoteWeb(r.services, api.url, r.double, r.logins, r.other)
        # the demo hospital's clinician is bound; the other hospital's is not
        clinician = h.actor("clinician")
        SubscriberBindings(r.services.engine).bind(clinician.tenant, clinician.subject,
                                                   USER_ID, bound_by="test")
        yield h


@pytest.mark.parametrize(("lang", "text"), [
    ("vi", "Chưa cấu hình nhà cung cấp ký số từ xa"),
    ("en", "No remote signing provider is configured")])
def test_no_provider_no_button_and_post_refused(web_env: Any, lang: str, text: str) -> None:
    """The embedded default of ``tests/web/conftest.py``: no provider configured. First in
    this module: the session's ``web_env`` must start before ``remote_web`` sets the
    ``HSBA_REMOTE_*`` variables (read by every ``Settings``) for the module."""
    assert web_env.services.settings.remote_provider == "none"
    doc_id = web_env.create_consents(1)[0]
    before = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    with web_client(web_env.base_url, web_env.logins["clinician"], lang=lang) as web:
        page = web.get(f"/web/documents/{doc_id}")
        assert page.status_code == 200 and 'id="remote-sign"' not in page.text
        assert "/web/documents/" + doc_id + "/sign" in page.text  # the HSM form is there
        inbox = web.get("/web/inbox")
        assert 'id="remote-batch-submit"' not in inbox.text
        r = web.post("/web/remote-signing", data={"csrf": _csrf(inbox.text),
                                                  "doc": f"{doc_id}:{before.sha256}"})
        assert r.status_code == 404 and text in r.text, r.text[-1500:]
    after = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    assert (after.version, after.sha256, after.status) == (
        before.version, before.sha256, before.status)


@pytest.mark.services
def test_remote_button_waiting_page_then_archived_in_the_browser(
        remote_web: RemoteWeb, browser: Any) -> None:
    from playwright.sync_api import expect

    h = remote_web
    doc = h.new_discharge()
    login = h.logins["clinician"]
    context = browser.new_context(base_url=h.base, locale="vi-VN",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto("/web/login")
        page.get_by_label("Tên đăng nhập").fill(login.username)
        page.get_by_label("Mật khẩu").fill(login.secret)
        page.get_by_label("Mã xác thực một lần").fill(pyotp.TOTP(login.totp_secret).now())
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url("**/web/inbox")
        page.goto(f"/web/documents/{doc.id}")
        page.get_by_role("button", name=BUTTON_VI).click()
        page.wait_for_url("**/web/remote-signing/*")
        state = page.locator("#remote-state")
        expect(state).to_contain_text("Đang chờ xác nhận trong ứng dụng trên điện thoại")
        expect(state).to_contain_text("hết hạn lúc")
        row = page.locator(f"#row-{doc.id}")
        expect(row).to_have_attribute("data-state", "awaiting_confirmation")
        transaction_id = page.url.rsplit("/", 1)[1]
        tran_code = h.tran_code(transaction_id)
        assert len(h.double.transactions[tran_code]["sign_files"]) == 1
        assert h.services.index.versions(doc.id) == []  # nothing archived yet
        # the clinician confirms in the phone app; the provider notifies hsba
        h.double.confirm(tran_code)
        assert h.double.notify(tran_code, h.hook, SECRET.encode()).status_code == 200
        expect(row).to_have_attribute("data-state", "archived", timeout=90_000)
        expect(row).to_contain_text("Đã ký và lưu trữ")
        expect(page.locator("#remote-state")).to_contain_text("Đã xác nhận trên điện thoại")
        expect(row.get_by_role("link")).to_have_attribute("href", f"/web/documents/{doc.id}")
    finally:
        context.close()
    # a new archived version, now in the next signer's (head of department's) inbox
    from workflow.views import InboxFilters, awaiting_my_signature

    versions = h.services.index.versions(doc.id)
    assert len(versions) == 1 and versions[0].reason == "B-LT:doctor"
    head = h.actor("head_of_department")
    assert doc.id in {i.id for i in awaiting_my_signature(h.services, head, InboxFilters())}
    view = h.services.documents.get(head, doc.id, audit=False)
    doctor = next(r for r in view.signature_requests if r.role == "doctor")
    assert doctor.status == "signed" and doctor.method == "remote_signing"


@pytest.mark.services
def test_inbox_batch_is_one_transaction_owner_only_and_rejection_signs_nothing(
        remote_web: RemoteWeb) -> None:
    h = remote_web
    a, b = h.new_discharge(), h.new_discharge()
    with web_client(h.base, h.logins["clinician"]) as web:
        inbox = web.get("/web/inbox")
        assert 'id="remote-batch-submit"' in inbox.text and BUTTON_VI in inbox.text
        page = web.get(f"/web/documents/{a.id}")
        assert 'id="remote-sign"' in page.text
        r = web.post("/web/remote-signing", data={
            "csrf": _csrf(inbox.text),
            "doc": [f"{a.id}:{a.sha256}:discharge_paper", f"{b.id}:{b.sha256}:discharge_paper"]})
        assert r.status_code == 303, r.text[:500]
        waiting = r.headers["location"]
        transaction_id = waiting.rsplit("/", 1)[1]
        status = web.get(f"{waiting}/status").json()
        assert status["status"] == "pending" and not status["finished"]
        assert {s["document_id"]: s["state"] for s in status["states"]} == {
            a.id: "awaiting_confirmation", b.id: "awaiting_confirmation"}
        tran_code = h.tran_code(transaction_id)
        assert len(h.double.transactions[tran_code]["sign_files"]) == 2  # ONE confirmation
        # a CSRF-less post is refused
        assert web.post("/web/remote-signing", data={
            "doc": f"{a.id}:{a.sha256}"}).status_code in (400, 403)
    # nobody else sees the waiting page or its status: 404, as for an unknown id
    for login in (h.logins["head_of_department"], h.other_logins["clinician"]):
        with web_client(h.base, login) as other:
            assert other.get(waiting).status_code == 404
            assert other.get(f"{waiting}/status").status_code == 404
    with web_client(h.base, h.logins["clinician"], lang="en") as web:
        h.double.reject(tran_code)
        assert h.double.notify(tran_code, h.hook, SECRET.encode()).status_code == 200
        status = web.get(f"{waiting}/status").json()
        assert status["status"] == "rejected" and status["finished"]
        assert {s["state"] for s in status["states"]} == {"not_signed"}
        page = web.get(waiting)
        assert page.status_code == 200 and "nothing was signed" in page.text
        assert "remote.js" not in page.text  # settled: no more polling
    assert h.services.index.versions(a.id) == [] and h.services.index.versions(b.id) == []


@pytest.mark.services
@pytest.mark.parametrize(("lang", "text"), [
    ("vi", "chưa được gắn với thuê bao ký số từ xa"),
    ("en", "not bound to a remote-signing subscriber")])
def test_no_bound_subscriber_no_button_and_post_refused(remote_web: RemoteWeb, lang: str,
                                                         text: str) -> None:
    h = remote_web
    doc = h.new_discharge(other=True)
    sent = len(h.double.requests)
    with web_client(h.base, h.other_logins["clinician"], lang=lang) as web:
        page = web.get(f"/web/documents/{doc.id}")
        assert page.status_code == 200 and 'id="remote-sign"' not in page.text
        inbox = web.get("/web/inbox")
        assert doc.id in inbox.text and 'id="remote-batch-submit"' not in inbox.text
        r = web.post("/web/remote-signing", data={"csrf": _csrf(inbox.text),
                                                  "doc": f"{doc.id}:{doc.sha256}"})
        assert r.status_code == 403 and text in r.text
    assert len(h.double.requests) == sent  # nothing sent to the provider
    assert h.services.index.versions(doc.id) == []


@pytest.mark.services
def test_a_version_not_the_one_seen_is_refused_with_its_reason_nothing_sent(
        remote_web: RemoteWeb) -> None:
    h = remote_web
    doc = h.new_discharge()
    sent = len(h.double.transactions)
    with web_client(h.base, h.logins["clinician"], lang="en") as web:
        page = web.get(f"/web/documents/{doc.id}")
        r = web.post("/web/remote-signing", data={"csrf": _csrf(page.text),
                                                  "doc": f"{doc.id}:{'0' * 64}"})
        assert r.status_code == 409, r.text[-1500:]
        assert "nothing was sent to the provider" in r.text and doc.id[:8] in r.text
    assert len(h.double.transactions) == sent  # no signature asked (only the certificate read)
    assert h.services.index.versions(doc.id) == []
