"""Patient kiosk / bedside tablet: the document page by page in large text,
then a confirmation by handwritten pad, fingerprint (through a reader
adapter) or OTP, by the patient or a representative (relationship
recorded), sealed by the hospital; a receipt with the verification QR code.

The patient identifies with the id on their wristband/slip; it is kept in a
kiosk-scoped cookie and checked by the access gate on every request (the
``own_record`` relationship), never logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.deps import DocId
from api.web.common import blocking, form_title, issue_session, page, page_count, services_of
from api.web.devices import DevFingerprintReader, DevOtpSender, FingerprintReader
from api.web.session import (
    LOGIN_CSRF_COOKIE,
    check_csrf,
    check_login_csrf,
    lang_of,
    new_login_csrf,
    principal_of,
    render,
    set_session,
)
from core.errors import Forbidden, HsbaError, InvalidInput
from workflow.signing import PatientEvidence
from workflow.views import awaiting_patient

router = APIRouter(prefix="/web/kiosk", include_in_schema=False)
PATIENT_COOKIE = "hsba_kiosk_patient"
RELATIONSHIPS = ("parent", "spouse", "child", "guardian", "other")
METHODS = ("patient_pad", "fingerprint", "otp")
MAX_PNG = 512 * 1024


def _kiosk(request: Request) -> Any:
    principal = principal_of(request, kiosk=True)
    if principal.role != "kiosk":
        raise Forbidden("web.kiosk_only", "Trang này dành cho ki-ốt.", "This page is for kiosks.")
    return principal


def fingerprint_reader(request: Request) -> FingerprintReader:
    """The configured reader adapter; only the development stand-in exists so far."""
    reader = getattr(request.app.state, "web_fingerprint_reader", None)
    if reader is None:
        reader = request.app.state.web_fingerprint_reader = DevFingerprintReader(
            services_of(request).settings.env)
    return reader  # type: ignore[no-any-return]


def otp_sender(request: Request) -> DevOtpSender:
    sender = getattr(request.app.state, "web_otp_sender", None)
    if sender is None:
        sender = request.app.state.web_otp_sender = DevOtpSender(services_of(request).settings.env)
    return sender  # type: ignore[no-any-return]


def _patient(request: Request) -> str:
    ref = request.cookies.get(PATIENT_COOKIE, "")
    if not ref:
        raise InvalidInput("web.patient_not_identified", "Người bệnh chưa nhập mã.",
                           "The patient has not identified.")
    return ref


def _document_for_patient(services: Any, actor: Any, document_id: str,
                          patient_ref: str) -> tuple[Any, bytes]:
    """ADAPTER: ``DocumentWorkflow.get``/``pdf`` take no presented patient id yet, so the
    kiosk's view goes through the workflow's own access check with it (``_checked``),
    audited like ``pdf``. Move to a public ``DocumentWorkflow.pdf(presented_patient_ref=)``."""
    wf = services.documents
    row = wf._checked(actor, document_id, "view", presented_patient_ref=patient_ref)
    pdf = wf._current_pdf(row)
    services.trail.record("view", actor=actor, document_id=row.id,
                          details={"version": row.version, "via": "kiosk"})
    return wf._view(row), pdf


@router.get("/login")
async def login_form(request: Request, expired: int = 0) -> Response:
    token = new_login_csrf()
    response = render(request, "kiosk_login.html", login_csrf=token, expired=bool(expired),
                      failed=False)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login")
async def login(request: Request, device_id: Annotated[str, Form(max_length=128)],
                device_secret: Annotated[str, Form(max_length=256)],
                csrf: Annotated[str, Form(max_length=64)]) -> Response:
    services = services_of(request)
    try:
        check_login_csrf(request, csrf)
        account = await blocking(request, services.accounts.authenticate, "device", device_id,
                                 device_secret)
    except HsbaError as e:
        token = new_login_csrf()
        response = render(request, "kiosk_login.html", status_code=401, login_csrf=token,
                          expired=False, failed=True, message=e.message(lang_of(request)))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response
    token, ttl = issue_session(request, account, services)
    done: Response = RedirectResponse("/web/kiosk", status_code=303)
    set_session(done, token, ttl)
    return done


@router.get("")
@page(kiosk=True)
async def kiosk_home(request: Request) -> Response:
    principal = _kiosk(request)
    items = await blocking(request, awaiting_patient, services_of(request), principal)
    lang = lang_of(request)
    response = render(request, "kiosk_home.html", items=items, bodyclass="kiosk",
                      title_of=lambda c: form_title(c, lang))
    response.delete_cookie(PATIENT_COOKIE, path="/web/kiosk")
    return response


@router.get("/{document_id}")
@page(kiosk=True, back="/web/kiosk")
async def identify_form(request: Request, document_id: DocId) -> Response:
    _kiosk(request)
    return render(request, "kiosk_identify.html", document_id=document_id, bodyclass="kiosk")


@router.post("/{document_id}/identify")
@page(kiosk=True, back="/web/kiosk")
async def identify(request: Request, document_id: DocId,
                   patient_ref: Annotated[str, Form(min_length=1, max_length=64)],
                   csrf: Annotated[str, Form(max_length=64)]) -> Response:
    principal = _kiosk(request)
    check_csrf(request, csrf)
    try:
        await blocking(request, _document_for_patient, services_of(request), principal,
                       document_id, patient_ref.strip())
    except Forbidden as e:  # the refusal itself is audited by the access gate
        raise InvalidInput("web.patient_mismatch",
                           "Mã người bệnh không khớp với tài liệu này, hoặc tài liệu không còn "
                           "chờ xác nhận. Vui lòng hỏi nhân viên y tế.",
                           "The patient id does not match this document, or it no longer "
                           "awaits a confirmation. Please ask the staff.") from e
    response = RedirectResponse(f"/web/kiosk/{document_id}/read?page=1", status_code=303)
    response.set_cookie(PATIENT_COOKIE, patient_ref.strip(), httponly=True, samesite="strict",
                        path="/web/kiosk", max_age=1800)
    return response


@router.get("/{document_id}/read")
@page(kiosk=True, back="/web/kiosk")
async def read(request: Request, document_id: DocId,
               page_no: Annotated[int, Query(alias="page", ge=1, le=500)] = 1) -> Response:
    principal = _kiosk(request)
    view, pdf = await blocking(request, _document_for_patient, services_of(request), principal,
                               document_id, _patient(request))
    pages = await blocking(request, page_count, pdf)
    return render(request, "kiosk_read.html", doc=view, page_no=min(page_no, pages),
                  pages=pages, title=form_title(view.form_code, lang_of(request)),
                  bodyclass="kiosk")


@router.get("/{document_id}/pages/{number}.png")
@page(kiosk=True)
async def page_image(request: Request, document_id: DocId,
                     number: Annotated[int, Path(ge=1, le=500)]) -> Response:
    from templates.preview import page_png

    principal = _kiosk(request)
    _, pdf = await blocking(request, _document_for_patient, services_of(request), principal,
                            document_id, _patient(request))
    png = await blocking(request, page_png, pdf, number - 1, 130)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.get("/{document_id}/confirm")
@page(kiosk=True, back="/web/kiosk")
async def confirm_form(request: Request, document_id: DocId) -> Response:
    principal = _kiosk(request)
    view, _ = await blocking(request, _document_for_patient, services_of(request), principal,
                             document_id, _patient(request))
    reader = fingerprint_reader(request)
    return render(request, "kiosk_confirm.html", doc=view, relationships=RELATIONSHIPS,
                  methods=METHODS, bodyclass="kiosk",
                  dev_reader=getattr(reader, "development", False),
                  title=form_title(view.form_code, lang_of(request)))


@router.post("/{document_id}/fingerprint")
async def capture_fingerprint(request: Request, document_id: DocId) -> Response:
    """The reader adapter captures; only the evidence hash goes back to the page."""
    try:
        principal = _kiosk(request)
        check_csrf(request, request.headers.get("x-csrf-token"))
        view, _ = await blocking(request, _document_for_patient, services_of(request),
                                 principal, document_id, _patient(request))
        capture = await blocking(request, fingerprint_reader(request).capture, view.sha256)
    except HsbaError as e:
        return JSONResponse({"error": e.message(lang_of(request))}, status_code=400)
    except Exception:  # noqa: BLE001 - login expired
        return JSONResponse({"error": "login"}, status_code=401)
    return JSONResponse({"evidence_sha256": capture.evidence_sha256,
                         "device_id": capture.device_id, "development": capture.development})


@router.post("/{document_id}/otp")
async def send_otp(request: Request, document_id: DocId) -> Response:
    try:
        principal = _kiosk(request)
        check_csrf(request, request.headers.get("x-csrf-token"))
        await blocking(request, _document_for_patient, services_of(request), principal,
                       document_id, _patient(request))
        code = otp_sender(request).send(principal.subject, document_id)
    except HsbaError as e:
        return JSONResponse({"error": e.message(lang_of(request))}, status_code=400)
    except Exception:  # noqa: BLE001 - login expired
        return JSONResponse({"error": "login"}, status_code=401)
    return JSONResponse({"sent": True, "development_code": code})


@router.post("/{document_id}/confirm")
@page(kiosk=True, back="/web/kiosk")
async def confirm(request: Request, document_id: DocId,
                  csrf: Annotated[str, Form(max_length=64)],
                  sha256: Annotated[str, Form(min_length=64, max_length=64)],
                  signer_name: Annotated[str, Form(min_length=1, max_length=128)],
                  method: Annotated[str, Form(max_length=16)],
                  agree: Annotated[str, Form(max_length=8)] = "",
                  who: Annotated[str, Form(max_length=16)] = "patient",
                  relationship: Annotated[str, Form(max_length=16)] = "",
                  pad_png: Annotated[str, Form(max_length=800_000)] = "",
                  fingerprint_sha256: Annotated[str, Form(max_length=64)] = "",
                  otp_code: Annotated[str, Form(max_length=8)] = "") -> Response:
    principal = _kiosk(request)
    check_csrf(request, csrf)
    services = services_of(request)
    patient_ref = _patient(request)
    lang = lang_of(request)
    if agree != "yes":
        raise InvalidInput("confirm.not_agreed", "Cần đánh dấu ô xác nhận đồng ý.",
                           "Tick the confirmation box.")
    if method not in METHODS:
        raise InvalidInput("confirm.bad_method", "Cách xác nhận không hợp lệ.",
                           "Unknown confirmation method.")
    representative = who == "representative"
    if representative and relationship not in RELATIONSHIPS:
        raise InvalidInput("confirm.no_relationship", "Cần chọn quan hệ với người bệnh.",
                           "Choose the relationship to the patient.")
    name = " ".join(signer_name.split())
    png: bytes | None = None
    evidence: str | None = None
    device = principal.username or principal.subject
    if method == "patient_pad":
        png = _png(pad_png)
    elif method == "fingerprint":
        if len(fingerprint_sha256) != 64:
            raise InvalidInput("confirm.no_fingerprint", "Chưa quét vân tay.",
                               "The fingerprint has not been captured.")
        evidence = fingerprint_sha256.lower()
        device = f"{device}/{fingerprint_reader(request).device_id}"
    else:
        evidence = otp_sender(request).verify(principal.subject, document_id, otp_code,
                                              sha256.lower())
    if representative:
        from api.web.i18n import TEXT

        label = TEXT[f"rel_{relationship}"][0]
        name = f"{name} (người đại diện — {label})"
    out = await blocking(
        request, services.documents.confirm_patient, principal, document_id,
        PatientEvidence(method=method, signer_name=name, device=device, handwritten_png=png,
                        evidence_sha256=evidence, representative=representative),
        patient_ref=patient_ref, expected_sha256=sha256.lower())
    if representative:  # the relationship, in the audit chain (no names)
        services.trail.record("seal", actor=principal, document_id=document_id,
                              details={"representative": True, "relationship": relationship,
                                       "version": out.document.version})
    verify_url = f"{services.settings.base_url}/verify/{document_id}"
    response = render(request, "kiosk_receipt.html", doc=out.document, outcome=out,
                      verify_url=verify_url, qr_svg=_qr_svg(verify_url), signer_name=name,
                      method=method, bodyclass="kiosk",
                      title=form_title(out.document.form_code, lang))
    response.delete_cookie(PATIENT_COOKIE, path="/web/kiosk")
    return response


def _png(data_url: str) -> bytes:
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise InvalidInput("confirm.no_image", "Vui lòng ký vào khung.", "Please sign in the box.")
    try:
        png = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput("confirm.bad_image", "Hình chữ ký không hợp lệ.",
                           "The signature image is not valid.") from e
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or len(png) > MAX_PNG:
        raise InvalidInput("confirm.bad_image", "Hình chữ ký không hợp lệ.",
                           "The signature image is not valid.")
    return png


def _qr_svg(url: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return img.to_string(encoding="unicode")  # type: ignore[no-any-return]
