"""Clinician flows in the browser: log in with password + TOTP, inbox, page
preview, sign a batch of three with one PIN, a batch of 20 with progress and
a per-document result, keyboard-only signing, history."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Shots
from tests.web.helpers import staff_login, unlabelled_controls

pytestmark = pytest.mark.browser


def test_batch_of_three_with_one_confirmation(page, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("clinician-batch3")
    ids = web_env.create_consents(3)
    page.goto("/web/login")
    assert unlabelled_controls(page) == []
    shots(page, "login")
    staff_login(page, web_env, "clinician")
    assert page.url.endswith("/web/inbox")
    page.get_by_label("Biểu mẫu").select_option("consent_surgery")
    page.get_by_role("button", name="Áp dụng").click()
    for doc_id in ids:
        assert page.locator(f"#sel-{doc_id}").count() == 1
    assert unlabelled_controls(page) == []
    shots(page, "inbox")

    page.get_by_role("link", name=re.compile(f"Mở: .*{ids[0][:8]}")).click()
    preview = page.get_by_role("img", name="Ảnh trang 1 của tài liệu")
    preview.wait_for()
    assert page.evaluate("(img) => img.naturalWidth", preview.element_handle()) > 300
    shots(page, "document-preview")
    page.get_by_role("link", name="Về danh sách chờ ký").first.click()

    for doc_id in ids:
        page.locator(f"#sel-{doc_id}").check()
    assert "3 tài liệu" in page.locator("#selected-count").inner_text()
    page.get_by_label("Mã PIN ký số").fill(web_env.logins["clinician"].signing_pin)
    shots(page, "batch-confirm")
    page.get_by_role("button", name="Ký các tài liệu đã chọn").click()
    page.wait_for_url(re.compile(r"/web/batch/[0-9a-f]+$"))
    page.get_by_text("Hoàn tất: 3 thành công, 0 lỗi.").wait_for(timeout=120_000)
    for doc_id in ids:
        row = page.locator(f"#row-{doc_id}")
        assert "Đã ký" in row.inner_text()
    shots(page, "batch-result")
    for doc_id in ids:  # the workflow agrees: the doctor's step is signed
        view = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
        assert {r.role: r.status for r in view.signature_requests}["doctor"] == "signed"

    page.get_by_role("link", name="Tài liệu tôi đã ký").first.click()
    for doc_id in ids:
        assert page.locator(f'a[href="/web/documents/{doc_id}"]').count() == 1
    shots(page, "history")


def test_wrong_pin_signs_nothing(page, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("clinician-wrong-pin")
    (doc_id,) = web_env.create_consents(1)
    staff_login(page, web_env, "clinician")
    page.locator(f"#sel-{doc_id}").check()
    page.get_by_label("Mã PIN ký số").fill("000000")
    page.get_by_role("button", name="Ký các tài liệu đã chọn").click()
    alert = page.get_by_role("alert")
    assert "Mã PIN/OTP ký số không đúng" in alert.inner_text()
    shots(page, "refused")
    assert page.get_by_role("link", name="Quay lại").count() == 1  # no dead end
    view = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    assert view.version == 0


def test_batch_of_twenty_shows_progress(page, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("clinician-batch20")
    ids = web_env.create_consents(20)
    staff_login(page, web_env, "clinician")
    for doc_id in ids:
        page.locator(f"#sel-{doc_id}").check()
    page.get_by_label("hoặc mã TOTP").fill(web_env.totp("clinician"))
    page.get_by_role("button", name="Ký các tài liệu đã chọn").click()
    page.wait_for_url(re.compile(r"/web/batch/[0-9a-f]+$"))
    bar = page.locator("progress#progress")
    assert bar.get_attribute("max") == "20"
    # progress is shown while the batch runs: a value strictly between 0 and 20 is seen
    page.wait_for_function(
        "() => { const p = document.getElementById('progress');"
        " return p && p.value > 0 && p.value < 20; }", timeout=120_000)
    seen = int(bar.evaluate("p => p.value"))
    assert 0 < seen < 20
    assert re.search(r"Đã xử lý \d+/20 tài liệu", page.locator("#progress-label").inner_text())
    shots(page, "progress")
    page.get_by_text("Hoàn tất: 20 thành công, 0 lỗi.").wait_for(timeout=180_000)
    rows = page.locator("tbody tr")
    assert rows.count() == 20
    for doc_id in ids:
        assert "✓ Đã ký" in page.locator(f"#row-{doc_id}").inner_text()
    shots(page, "finished")


def test_sign_one_by_keyboard_only(page, web_env) -> None:  # type: ignore[no-untyped-def]
    """Tab/Enter through log-in, inbox, document and the signing form."""
    shots = Shots("clinician-keyboard")
    (doc_id,) = web_env.create_consents(1)
    login = web_env.logins["clinician"]
    page.goto("/web/login")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") in ("hsba", "")
    page.locator("#username").focus()
    page.keyboard.type(login.username)
    page.keyboard.press("Tab")
    page.keyboard.type(login.secret)
    page.keyboard.press("Tab")
    page.keyboard.type(web_env.totp("clinician"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/web/inbox"))
    link = page.locator(f'a[href="/web/documents/{doc_id}"]')
    for _ in range(80):  # Tab until the document's link has the focus, then Enter
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the document link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/web/documents/{doc_id}$"))
    pin = page.locator("#s-pin")
    for _ in range(80):
        page.keyboard.press("Tab")
        if pin.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the PIN field is not reachable with Tab")
    page.keyboard.type(login.signing_pin)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?ok="))
    status = page.get_by_role("status")
    assert "Đã ký tài liệu" in status.first.inner_text()
    assert page.locator("#s-pin").count() == 0  # my step is done: no sign form any more
    img = page.get_by_role("img", name="Ảnh trang 1 của tài liệu")
    img.scroll_into_view_if_needed()
    page.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle())
    shots(page, "signed")
