"""Server-rendered web pages for clinicians, patients (kiosk), auditors and
administrators, under ``/web/``. ``router`` is mounted by ``api.app.create_app``.

The session cookie holds the API's own access token; every page calls the
workflow through the same access gate as the REST API.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.web import admin, auditor, clinician, kiosk, remote
from api.web.i18n import LANGS
from api.web.session import HERE, LANG_COOKIE, safe_next

router = APIRouter(include_in_schema=False)
router.include_router(clinician.router)
router.include_router(kiosk.router)
router.include_router(auditor.router)
router.include_router(admin.router)
router.include_router(remote.router)

_STATIC = {"app.css": "text/css", "batch.js": "text/javascript",
           "inbox.js": "text/javascript", "kiosk.js": "text/javascript",
           "remote.js": "text/javascript"}


@router.get("/web/static/{name}")
async def static(name: str) -> Response:
    media = _STATIC.get(name)
    if media is None:
        return Response(status_code=404)
    return FileResponse(HERE / "static" / name, media_type=media,
                        headers={"Cache-Control": "public, max-age=300"})


@router.get("/web/lang/{lang}")
async def switch_language(lang: str, next: str = "/web/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax",
                            httponly=True)
    return response


@router.get("/web")
async def web_root() -> Response:
    return RedirectResponse("/web/", status_code=307)


@router.get("/verify/{document_id}")
async def printed_qr(document_id: str) -> Response:
    """The QR code printed on forms leads here: the auditor's report of that document."""
    safe = "".join(c for c in document_id if c.isalnum() or c in "-_")[:64]
    return RedirectResponse(f"/web/audit/documents/{safe}", status_code=303)
