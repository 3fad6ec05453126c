"""Patient kiosk on a tablet: identify, read page by page, draw a signature
with mouse events (undo/redo/clear), confirm, receipt with the verification
QR code; a representative with the fingerprint step; OTP."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Shots
from tests.web.helpers import kiosk_login, unlabelled_controls

pytestmark = pytest.mark.browser


def _ready_for_patient(web_env) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    (doc_id,) = web_env.create_consents(1)
    out = web_env.sign_as_doctor(doc_id)
    return doc_id, out.document.patient_ref


def _open(tablet, web_env, doc_id: str, patient_ref: str, shots: Shots) -> None:  # type: ignore[no-untyped-def]
    kiosk_login(tablet, web_env)
    assert tablet.url.endswith("/web/kiosk")
    tablet.locator(f'a[href="/web/kiosk/{doc_id}"]').click()
    shots(tablet, "identify")
    tablet.get_by_label("Mã người bệnh").fill(patient_ref)
    tablet.get_by_role("button", name="Tiếp tục").click()
    tablet.wait_for_url(re.compile(r"/read\?page=1"))
    img = tablet.get_by_role("img", name="Ảnh trang 1 của tài liệu")
    img.wait_for()
    assert tablet.evaluate("(i) => i.naturalWidth", img.element_handle()) > 300
    shots(tablet, "read-page-1")
    tablet.get_by_role("link", name=re.compile("Tôi đã đọc")).first.click()
    tablet.wait_for_url(re.compile(r"/confirm$"))


def _draw(tablet, strokes: int = 2) -> None:  # type: ignore[no-untyped-def]
    box = tablet.locator("#pad").bounding_box()
    assert box is not None
    for s in range(strokes):
        x0, y0 = box["x"] + 40 + s * 150, box["y"] + 120
        tablet.mouse.move(x0, y0)
        tablet.mouse.down()
        for i in range(1, 25):
            tablet.mouse.move(x0 + i * 5, y0 + (30 if i % 2 else -30) * (i / 25))
        tablet.mouse.up()


def _ink(tablet) -> int:  # type: ignore[no-untyped-def]
    return int(tablet.evaluate(
        "() => { const c = document.getElementById('pad');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"))


def test_patient_draws_and_confirms(tablet, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("kiosk-pad")
    doc_id, patient_ref = _ready_for_patient(web_env)
    _open(tablet, web_env, doc_id, patient_ref, shots)
    assert unlabelled_controls(tablet) == []
    tablet.get_by_label("Họ và tên người xác nhận").fill("Nguyễn Thị Hồng Nhung")
    _draw(tablet, 2)
    two = _ink(tablet)
    assert two > 0
    tablet.get_by_role("button", name="Hoàn tác nét cuối").click()
    one = _ink(tablet)
    assert 0 < one < two
    tablet.get_by_role("button", name="Làm lại nét").click()
    assert _ink(tablet) == two
    tablet.get_by_role("button", name="Xoá").click()
    assert _ink(tablet) == 0
    # confirming an empty pad is refused on the page
    tablet.get_by_label(re.compile("Tôi xác nhận đồng ý")).check()
    tablet.get_by_role("button", name="Xác nhận", exact=True).click()
    assert tablet.get_by_role("alert").inner_text() == "Vui lòng ký vào khung."
    _draw(tablet, 2)
    shots(tablet, "signed-pad")
    tablet.get_by_role("button", name="Xác nhận", exact=True).click()
    tablet.get_by_role("heading", name="Biên nhận xác nhận").wait_for()
    assert "đóng dấu số của bệnh viện" in tablet.get_by_role("status").inner_text()
    qr = tablet.get_by_role("img", name=re.compile("Quét mã QR để kiểm tra tài liệu"))
    assert qr.locator("svg").count() == 1
    assert f"/verify/{doc_id}" in tablet.content()
    shots(tablet, "receipt")
    view = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    patient = {r.role: r for r in view.signature_requests}["patient"]
    assert patient.status == "signed" and patient.method == "patient_pad"


def test_representative_with_fingerprint(tablet, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("kiosk-representative")
    doc_id, patient_ref = _ready_for_patient(web_env)
    _open(tablet, web_env, doc_id, patient_ref, shots)
    tablet.get_by_label("Người đại diện").check()
    tablet.get_by_label("Họ và tên người xác nhận").fill("Nguyễn Văn Bình")
    tablet.get_by_label("Quan hệ với người bệnh").select_option("spouse")
    tablet.get_by_label("Lăn vân tay").check()
    assert "DevFingerprintReader" in tablet.locator("#m-fingerprint").inner_text()
    tablet.get_by_role("button", name="Chạm để quét vân tay").click()
    tablet.get_by_text("Đã ghi nhận vân tay").wait_for()
    evidence = tablet.locator("#fingerprint_sha256").input_value()
    assert re.fullmatch(r"[0-9a-f]{64}", evidence)
    assert unlabelled_controls(tablet) == []
    shots(tablet, "fingerprint")
    tablet.get_by_label(re.compile("Tôi xác nhận đồng ý")).check()
    tablet.get_by_role("button", name="Xác nhận", exact=True).click()
    tablet.get_by_role("heading", name="Biên nhận xác nhận").wait_for()
    assert "người đại diện — Vợ/chồng" in tablet.locator("dl").inner_text()
    shots(tablet, "receipt")
    view = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    patient = {r.role: r for r in view.signature_requests}["patient"]
    assert patient.status == "signed" and patient.method == "fingerprint"
    events = web_env.services.audit.entries(after_seq=0, limit=100000)
    rel = [e for e in events if e.object_id == doc_id and e.details.get("relationship")]
    assert rel and rel[-1].details["relationship"] == "spouse"
    # only the evidence hash is bound, never a template
    seal = [e for e in events if e.object_id == doc_id and e.action == "seal"]
    assert seal


def test_otp_confirmation_and_wrong_code(tablet, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("kiosk-otp")
    doc_id, patient_ref = _ready_for_patient(web_env)
    _open(tablet, web_env, doc_id, patient_ref, shots)
    tablet.get_by_label("Họ và tên người xác nhận").fill("Nguyễn Thị Hồng Nhung")
    tablet.get_by_label("Mã OTP gửi đến điện thoại").check()
    tablet.get_by_role("button", name="Gửi mã OTP").click()
    status = tablet.locator("#otp-status")
    status.get_by_text("Môi trường phát triển").wait_for()
    code = re.search(r"(\d{6})", status.inner_text()).group(1)  # type: ignore[union-attr]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    tablet.get_by_label("Mã OTP", exact=True).fill(wrong)
    tablet.get_by_label(re.compile("Tôi xác nhận đồng ý")).check()
    tablet.get_by_role("button", name="Xác nhận", exact=True).click()
    assert "Mã OTP không đúng" in tablet.get_by_role("alert").inner_text()
    shots(tablet, "wrong-otp")
    tablet.get_by_role("link", name="Quay lại").click()
    tablet.wait_for_url(re.compile(r"/confirm$"))
    tablet.get_by_label("Họ và tên người xác nhận").fill("Nguyễn Thị Hồng Nhung")
    tablet.get_by_label("Mã OTP gửi đến điện thoại").check()
    tablet.get_by_role("button", name="Gửi mã OTP").click()
    status.get_by_text("Môi trường phát triển").wait_for()
    code = re.search(r"(\d{6})", status.inner_text()).group(1)  # type: ignore[union-attr]
    tablet.get_by_label("Mã OTP", exact=True).fill(code)
    tablet.get_by_label(re.compile("Tôi xác nhận đồng ý")).check()
    tablet.get_by_role("button", name="Xác nhận", exact=True).click()
    tablet.get_by_role("heading", name="Biên nhận xác nhận").wait_for()
    shots(tablet, "receipt")
    view = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    assert {r.role: r for r in view.signature_requests}["patient"].method == "otp"


def test_wrong_patient_id_sees_nothing(tablet, web_env) -> None:  # type: ignore[no-untyped-def]
    shots = Shots("kiosk-wrong-patient")
    doc_id, _ = _ready_for_patient(web_env)
    kiosk_login(tablet, web_env)
    tablet.goto(f"/web/kiosk/{doc_id}")
    tablet.get_by_label("Mã người bệnh").fill("BN-NOT-THIS-ONE")
    tablet.get_by_role("button", name="Tiếp tục").click()
    assert tablet.get_by_role("alert").count() == 1
    assert tablet.locator("img").count() == 0
    shots(tablet, "refused")
