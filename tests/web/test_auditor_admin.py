"""Auditor and admin pages in the browser: upload a manipulated PDF and see
it flagged (colour and words), the intact one passes, PDF report download,
archive search, who viewed the record, integrity status; admin keys,
policies and trust list; the English switch."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import pytest

from tests.web.conftest import Shots
from tests.web.helpers import staff_login, unlabelled_controls

pytestmark = pytest.mark.browser


def _tamper(pdf: bytes) -> bytes:
    """An incremental update after the signature that replaces page 1's content
    (the classic "incremental saving" attack): the signed bytes stay intact."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(BytesIO(pdf))
    page_ref, _ = w.find_page_for_modification(0)
    stream = generic.StreamObject(stream_data=b"BT /F1 28 Tf 80 700 Td (DA SUA - ALTERED) Tj ET")
    page = page_ref.get_object()
    page["/Contents"] = w.add_object(stream)
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed_document(web_env) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    (doc_id,) = web_env.create_consents(1)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(web_env._sign_as_doctor, doc_id).result()
        _, pdf = pool.submit(web_env.services.documents.pdf, web_env.actor("clinician"),
                             doc_id).result()
    return doc_id, pdf


def test_auditor_sees_manipulated_pdf_flagged(page, web_env, signed_document,
                                              tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("auditor-verify")
    _, pdf = signed_document
    bad = tmp_path / "da-sua.pdf"
    bad.write_bytes(_tamper(pdf))
    good = tmp_path / "nguyen-ban.pdf"
    good.write_bytes(pdf)
    staff_login(page, web_env, "auditor")
    assert page.url.endswith("/web/audit/verify")
    assert unlabelled_controls(page) == []
    shots(page, "upload")

    page.get_by_label("Tệp PDF cần kiểm tra").set_input_files(str(bad))
    page.get_by_role("button", name="Kiểm tra", exact=True).click()
    verdict = page.locator("#verdict")
    text = verdict.inner_text()
    assert "BỊ SỬA ĐỔI SAU KHI KÝ" in text or "KHÔNG HỢP LỆ" in text, text
    assert "bad" in (verdict.get_attribute("class") or "")  # colour AND words
    assert "✗" in text
    colour = verdict.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(251, 228, 228)"
    assert page.get_by_text("Nội dung bị thay đổi").count() >= 1  # what changed after it
    card = page.locator("section.sig").first
    assert "bad" in (card.get_attribute("class") or "")
    assert "✗ BỊ SỬA ĐỔI SAU KHI KÝ" in card.inner_text()
    shots(page, "manipulated-flagged")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Tải báo cáo PDF").click()
    report = Path(dl.value.path()).read_bytes()
    assert report.startswith(b"%PDF")

    page.goto("/web/audit/verify")
    page.get_by_label("Tệp PDF cần kiểm tra").set_input_files(str(good))
    page.get_by_role("button", name="Kiểm tra", exact=True).click()
    text = page.locator("#verdict").inner_text()
    assert "HỢP LỆ" in text and "KHÔNG HỢP LỆ" not in text, text
    assert "good" in (page.locator("#verdict").get_attribute("class") or "")
    assert page.get_by_text("Chuỗi chứng thư").count() >= 1
    shots(page, "intact-valid")


def test_auditor_archive_viewers_integrity(page, web_env, signed_document) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("auditor-archive")
    doc_id, _ = signed_document
    staff_login(page, web_env, "auditor")
    page.get_by_role("navigation").get_by_role("link", name="Tra cứu lưu trữ").click()
    page.get_by_label("Biểu mẫu").select_option("consent_surgery")
    page.get_by_role("button", name="Tìm").click()
    assert page.locator(f'a[href="/web/audit/documents/{doc_id}"]').count() == 1
    assert unlabelled_controls(page) == []
    shots(page, "search")
    page.locator(f'a[href="/web/audit/documents/{doc_id}"]').click()
    assert page.locator("#verdict").count() == 1
    shots(page, "archived-report")
    page.get_by_role("link", name="Ai đã xem hồ sơ này").click()
    table = page.locator("table").inner_text()
    assert "BS. Nguyễn Văn An" in table  # the doctor viewed/signed it
    assert "Hoàng Thị Em" in table  # the auditor's own verification is listed
    shots(page, "who-viewed")
    page.get_by_role("navigation").get_by_role("link", name="Tình trạng toàn vẹn lưu trữ").click()
    page.get_by_role("button", name="Kiểm tra ngay").click()
    status = page.get_by_role("status").first
    assert "Toàn vẹn" in status.inner_text()
    assert "Chuỗi nhật ký kiểm toán" in page.content()
    shots(page, "integrity")


def test_admin_keys_policies_trust_and_english(page, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("admin")
    staff_login(page, web_env, "admin")
    assert page.url.endswith("/web/admin")
    body = page.locator("main").inner_text()
    assert "Người hành nghề, khoá và chứng thư" in body
    assert "prac-" in body and "seal-" in body
    assert "✓ Còn hiệu lực" in body
    assert re.search(r"pol-[0-9a-f]{16}", body)
    assert "Danh sách tin cậy" in body
    shots(page, "vi")
    page.get_by_role("link", name="English").click()
    body = page.locator("main").inner_text()
    assert "Practitioners, keys and certificates" in body and "Trust list" in body
    assert page.locator("html").get_attribute("lang") == "en"
    shots(page, "en")
    page.goto("/web/inbox")  # an admin signs nothing: an empty inbox, not an error
    assert page.get_by_role("status").count() == 1
