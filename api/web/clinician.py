"""Staff pages: log in (password + TOTP), the inbox of documents waiting for my
signature, a document with its page previews, signing one, signing many with
one confirmation (with a progress page), and the history of what I signed."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.deps import DocId
from api.web.batch import BatchJobs
from api.web.batch import text as batch_text
from api.web.common import (
    blocking,
    form_title,
    form_titles,
    issue_session,
    page,
    page_count,
    services_of,
)
from api.web.remote import remote_offered
from api.web.remote import text as remote_text
from api.web.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    check_login_csrf,
    lang_of,
    new_login_csrf,
    principal_of,
    render,
    set_session,
)
from core.errors import HsbaError, InvalidInput, NotFound
from workflow.views import InboxFilters, awaiting_my_signature, my_next_step, signed_by_me

router = APIRouter(prefix="/web", include_in_schema=False)
HOME_BY_ROLE = {"auditor": "/web/audit/verify", "admin": "/web/admin", "kiosk": "/web/kiosk"}


def _jobs(request: Request) -> BatchJobs:
    jobs = getattr(request.app.state, "web_batch_jobs", None)
    if jobs is None:
        jobs = request.app.state.web_batch_jobs = BatchJobs()
    return jobs


@router.get("/")
@page()
async def home(request: Request) -> Response:
    principal = principal_of(request)
    return RedirectResponse(HOME_BY_ROLE.get(principal.role, "/web/inbox"), status_code=303)


@router.get("/login")
async def login_form(request: Request, expired: int = 0) -> Response:
    token = new_login_csrf()
    response = render(request, "login.html", login_csrf=token, expired=bool(expired),
                      failed=False)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login")
async def login(request: Request, username: Annotated[str, Form(max_length=128)],
                password: Annotated[str, Form(max_length=256)],
                csrf: Annotated[str, Form(max_length=64)],
                totp: Annotated[str, Form(max_length=16)] = "") -> Response:
    services = services_of(request)
    try:
        check_login_csrf(request, csrf)
        account = await blocking(request, services.accounts.authenticate, "staff", username,
                                 password, totp)
    except HsbaError as e:
        token = new_login_csrf()
        response = render(request, "login.html", status_code=401, login_csrf=token,
                          expired=False, failed=True,
                          message=e.message(lang_of(request)), username=username)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response
    token, ttl = issue_session(request, account, services)
    done: Response = RedirectResponse(HOME_BY_ROLE.get(account.role, "/web/inbox"),
                                      status_code=303)
    set_session(done, token, ttl)
    done.delete_cookie(LOGIN_CSRF_COOKIE)
    return done


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    kiosk = request.query_params.get("kiosk") == "1"
    response = RedirectResponse("/web/kiosk/login" if kiosk else "/web/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise InvalidInput("web.bad_date", "Ngày không hợp lệ.", "Invalid date.") from e


@router.get("/inbox")
@page()
async def inbox(request: Request,
                department: Annotated[str | None, Query(max_length=64)] = None,
                form: Annotated[str | None, Query(max_length=64)] = None,
                patient: Annotated[str | None, Query(max_length=64)] = None,
                date_from: Annotated[str | None, Query(max_length=10)] = None,
                date_to: Annotated[str | None, Query(max_length=10)] = None) -> Response:
    principal = principal_of(request)
    services = services_of(request)
    filters = InboxFilters(department=department or None, form_code=form or None,
                           patient_ref=patient or None, date_from=_date(date_from),
                           date_to=_date(date_to))
    items = await blocking(request, awaiting_my_signature, services, principal, filters)
    lang = lang_of(request)
    forms = sorted((code, form_title(code, lang)) for code in form_titles())
    return render(request, "inbox.html", items=items, filters=filters, forms=forms,
                  title_of=lambda c: form_title(c, lang),
                  remote_offered=bool(items) and await remote_offered(request, principal),
                  rt=remote_text(lang))


@router.get("/history")
@page()
async def history(request: Request) -> Response:
    principal = principal_of(request)
    items = await blocking(request, signed_by_me, services_of(request), principal)
    lang = lang_of(request)
    return render(request, "history.html", items=items, title_of=lambda c: form_title(c, lang))


@router.get("/documents/{document_id}")
@page(back="/web/inbox")
async def document(request: Request, document_id: DocId) -> Response:
    principal = principal_of(request)
    services = services_of(request)
    view, pdf = await blocking(request, services.documents.pdf, principal, document_id)
    pages = await blocking(request, page_count, pdf)
    step = await blocking(request, my_next_step, services, principal, view)
    lang = lang_of(request)
    return render(request, "document.html", doc=view, pages=pages, my_step=step,
                  title=form_title(view.form_code, lang), flash=request.query_params.get("ok"),
                  remote_offered=bool(step) and await remote_offered(request, principal),
                  rt=remote_text(lang))


@router.get("/documents/{document_id}/pages/{number}.png")
@page()
async def page_image(request: Request, document_id: DocId,
                     number: Annotated[int, Path(ge=1, le=500)]) -> Response:
    from templates.preview import page_png

    principal = principal_of(request)
    services = services_of(request)
    _, pdf = await blocking(request, services.documents.pdf, principal, document_id)
    png = await blocking(request, page_png, pdf, number - 1, 110)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.post("/documents/{document_id}/sign")
@page(back="/web/inbox")
async def sign_one(request: Request, document_id: DocId,
                   sha256: Annotated[str, Form(min_length=64, max_length=64)],
                   csrf: Annotated[str, Form(max_length=64)],
                   pin: Annotated[str, Form(max_length=32)] = "",
                   totp: Annotated[str, Form(max_length=16)] = "") -> Response:
    principal = principal_of(request)
    check_csrf(request, csrf)
    services = services_of(request)
    out = await blocking(request, services.documents.sign, principal, document_id,
                         pin=pin or None, totp=totp or None, expected_sha256=sha256)
    return RedirectResponse(f"/web/documents/{document_id}?ok={out.document.status}",
                            status_code=303)


@router.post("/batch")
@page(back="/web/inbox")
async def start_batch(request: Request) -> Response:
    principal = principal_of(request)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    jobs = _jobs(request)
    selected = [str(v) for v in form.getlist("doc")][:jobs.max_documents]
    if not selected:
        raise InvalidInput("web.nothing_selected", "Chưa chọn tài liệu nào.",
                           "No document selected.")
    items: list[tuple[str, str, str]] = []
    for value in selected:
        doc_id, _, rest = value.partition(":")
        sha, _, form_code = rest.partition(":")
        if not doc_id or len(sha) != 64:
            raise InvalidInput("web.bad_selection", "Lựa chọn không hợp lệ.",
                               "Invalid selection.")
        items.append((doc_id[:64], sha.lower(), form_code[:64]))
    job_id = await blocking(request, jobs.start, services_of(request), principal, items,
                            pin=str(form.get("pin", "")) or None,
                            totp=str(form.get("totp", "")) or None)
    return RedirectResponse(f"/web/batch/{job_id}", status_code=303)


def _no_job() -> NotFound:
    return NotFound("web.no_job", "Không tìm thấy lượt ký.", "No such batch.")


@router.get("/batch/{job_id}")
@page(back="/web/inbox")
async def batch_page(request: Request, job_id: DocId) -> Response:
    principal = principal_of(request)
    services = services_of(request)
    job = await blocking(request, _jobs(request).get, services, job_id, principal)
    if job is None:
        raise _no_job()
    lang = lang_of(request)
    return render(request, "batch.html", job=job.to_dict(), bt=batch_text(lang),
                  resumable=job.interrupted and services.queue is None,
                  title_of=lambda c: form_title(c, lang))


@router.post("/batch/{job_id}/resume")
@page(back="/web/inbox")
async def batch_resume(request: Request, job_id: DocId,
                       csrf: Annotated[str, Form(max_length=64)]) -> Response:
    principal = principal_of(request)
    check_csrf(request, csrf)
    await blocking(request, _jobs(request).resume, services_of(request), job_id, principal)
    return RedirectResponse(f"/web/batch/{job_id}", status_code=303)


@router.get("/batch/{job_id}/status")
async def batch_status(request: Request, job_id: DocId) -> Response:
    try:
        principal = principal_of(request)
    except Exception:  # noqa: BLE001 - the poller goes to the log-in page
        return JSONResponse({"login": True}, status_code=401)
    job = await blocking(request, _jobs(request).get, services_of(request), job_id, principal)
    if job is None:
        return JSONResponse({"missing": True}, status_code=404)
    return JSONResponse(job.to_dict(), headers={"Cache-Control": "no-store"})
