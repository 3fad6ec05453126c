"""Auditor pages: verify an uploaded PDF or an archived document (report page
and PDF report), archive search, "who viewed this record", and the archive's
integrity status (last sweep and audit-chain verification, run on demand)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from api.deps import DocId
from api.web.common import blocking, form_title, form_titles, page, services_of
from api.web.session import check_csrf, lang_of, principal_of, render
from core.errors import InvalidInput, NotFound
from workflow.access import RecordRef

router = APIRouter(prefix="/web/audit", include_in_schema=False)
Sha = Annotated[str, Path(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")]
KEEP_REPORTS = 32


class _Reports:
    """The last reports of this process (for the PDF download), by (owner, sha256)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, owner: str, sha: str, report: Any, name: str) -> None:
        with self._lock:
            self._items[(owner, sha)] = (report, name)
            while len(self._items) > KEEP_REPORTS:
                self._items.popitem(last=False)

    def get(self, owner: str, sha: str) -> tuple[Any, str] | None:
        with self._lock:
            return self._items.get((owner, sha))  # type: ignore[no-any-return]


def _reports(request: Request) -> _Reports:
    reports = getattr(request.app.state, "web_reports", None)
    if reports is None:
        reports = request.app.state.web_reports = _Reports()
    return reports


def _verify(services: Any, data: bytes, lang: str) -> Any:
    from signer.verify import verify_pdf

    # Same rule as the REST API: with the development PKI, its OCSP/CRL are this very
    # service, so the validation data the file carries is used.
    offline = services.pki is not None or not services.settings.revocation_online
    return verify_pdf(data, trust_roots=services.trust_roots, offline=offline, lang=lang)


def _auditor(request: Request, action: str = "verify") -> Any:
    principal = principal_of(request)
    services = services_of(request)
    services.access.require(principal, action, RecordRef(tenant=principal.tenant))
    return principal


@router.get("/verify")
@page()
async def verify_form(request: Request) -> Response:
    _auditor(request)
    return render(request, "verify.html")


@router.post("/verify")
@page(back="/web/audit/verify")
async def verify_upload(request: Request, file: Annotated[UploadFile, File()],
                        csrf: Annotated[str, Form(max_length=64)]) -> Response:
    principal = _auditor(request)
    check_csrf(request, csrf)
    data = await file.read()
    if not data:
        raise InvalidInput("verify.empty", "Tệp rỗng.", "The file is empty.")
    services = services_of(request)
    lang = lang_of(request)
    report = await blocking(request, _verify, services, data, lang)
    sha = hashlib.sha256(data).hexdigest()
    services.trail.record("verify", actor=principal,
                          details={"sha256": sha, "verdict": str(report.verdict), "via": "web"})
    name = (file.filename or "document.pdf")[:120]
    _reports(request).put(principal.subject, sha, report, name)
    return render(request, "report.html", report=report, sha=sha, name=name, document=None)


@router.get("/documents/{document_id}")
@page(back="/web/audit/archive")
async def verify_archived(request: Request, document_id: DocId) -> Response:
    principal = principal_of(request)
    services = services_of(request)
    # Reading the archived copy is a view of the record (it shows in "who viewed").
    view, pdf = await blocking(request, services.documents.pdf, principal, document_id,
                               action="view")
    lang = lang_of(request)
    report = await blocking(request, _verify, services, pdf, lang)
    services.trail.record("verify", actor=principal, document_id=view.id,
                          details={"verdict": str(report.verdict), "via": "web"})
    _reports(request).put(principal.subject, view.sha256, report, f"{view.id}.pdf")
    return render(request, "report.html", report=report, sha=view.sha256, name=f"{view.id}.pdf",
                  document=view, title=form_title(view.form_code, lang))


@router.get("/reports/{sha}.pdf")
@page(back="/web/audit/verify")
async def report_pdf(request: Request, sha: Sha) -> Response:
    from signer.verify.report_pdf import render_report_pdf

    principal = _auditor(request)
    kept = _reports(request).get(principal.subject, sha)
    if kept is None:
        raise NotFound("web.report_gone", "Báo cáo không còn; vui lòng kiểm tra lại tệp.",
                       "The report is no longer kept; verify the file again.")
    report, name = kept
    pdf = await blocking(request, render_report_pdf, report, lang_of(request))
    filename = f"bao-cao-{name.rsplit('.', 1)[0][:60]}.pdf"
    safe = "".join(c for c in filename if c.isalnum() or c in "-_.")
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


@router.get("/archive")
@page()
async def archive_search(request: Request,
                         patient_identifier: Annotated[str | None, Query(max_length=32)] = None,
                         form: Annotated[str | None, Query(max_length=64)] = None,
                         department: Annotated[str | None, Query(max_length=64)] = None,
                         signer: Annotated[str | None, Query(max_length=128)] = None,
                         cursor: Annotated[str | None, Query(max_length=256)] = None) -> Response:
    principal = _auditor(request, "view")
    services = services_of(request)
    cccd = bhyt = None
    if patient_identifier:
        if patient_identifier.strip().isdigit():
            cccd = patient_identifier.strip()
        else:
            bhyt = patient_identifier.strip().upper()
    result = await blocking(request, services.index.search, principal.tenant, patient_cccd=cccd,
                            patient_bhyt=bhyt, form_code=form or None,
                            department=department or None, signer=signer or None, limit=50,
                            cursor=cursor or None)
    services.trail.record("view", actor=principal,
                          details={"search": True, "results": len(result.items), "via": "web"})
    lang = lang_of(request)
    forms = sorted((code, form_title(code, lang)) for code in form_titles())
    return render(request, "archive.html", page_=result, forms=forms,
                  q={"patient_identifier": patient_identifier or "", "form": form or "",
                     "department": department or "", "signer": signer or ""},
                  title_of=lambda c: form_title(c, lang))


@router.get("/documents/{document_id}/viewers")
@page(back="/web/audit/archive")
async def viewers(request: Request, document_id: DocId) -> Response:
    principal = principal_of(request)
    services = services_of(request)
    view = await blocking(request, services.documents.get, principal, document_id, audit=False)
    rows = await blocking(request, services.audit.who_viewed, document_id)
    names: dict[str, tuple[str, str]] = {}
    for r in rows:
        if r.actor_id not in names:
            account = services.accounts.get(r.actor_id)
            names[r.actor_id] = ((account.display_name or account.username, account.role)
                                 if account else (r.actor_id[:12], ""))
    items = [(r.at, *names[r.actor_id], r.action) for r in rows
             if r.tenant_id == principal.tenant]
    return render(request, "viewers.html", doc=view, items=items,
                  title=form_title(view.form_code, lang_of(request)))


def _integrity(services: Any) -> dict[str, Any]:
    from archive.integrity import check_archive

    started = datetime.now(UTC)
    sweep = check_archive(services.index, services.store)
    chain = services.audit.verify(services.store)
    return {"at": started, "sweep": sweep.to_dict(), "chain": chain.to_dict()}


@router.get("/integrity")
@page()
async def integrity(request: Request) -> Response:
    _auditor(request, "view")
    services = services_of(request)
    last = getattr(request.app.state, "web_integrity", None)
    checkpoints = await blocking(request, _checkpoints, services)
    return render(request, "integrity.html", last=last, checkpoint=checkpoints[-1]
                  if checkpoints else None)


def _checkpoints(services: Any) -> list[dict[str, Any]]:
    try:
        return list(services.audit.read_checkpoints(services.store))
    except Exception:  # noqa: BLE001 - shown as "never"
        return []


@router.post("/integrity")
@page(back="/web/audit/integrity")
async def run_integrity(request: Request, csrf: Annotated[str, Form(max_length=64)]) -> Response:
    principal = _auditor(request, "view")
    check_csrf(request, csrf)
    services = services_of(request)
    result = await blocking(request, _integrity, services)
    request.app.state.web_integrity = result
    services.trail.record("verify", actor=principal, details={
        "integrity": bool(result["sweep"]["ok"]), "audit_chain": bool(result["chain"]["ok"]),
        "via": "web"})
    checkpoints = await blocking(request, _checkpoints, services)
    return render(request, "integrity.html", last=result,
                  checkpoint=checkpoints[-1] if checkpoints else None)
