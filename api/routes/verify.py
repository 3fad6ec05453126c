"""Verify any PDF: upload it, get the verification report (JSON or a printable PDF).

The printable report is a PDF/A-3b document sealed with the hospital's
organisation seal (PAdES B-LTA), so an auditor's downloaded copy is itself a
signed record of what hsba found.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from api.deps import PrincipalDep, ServicesDep, authorize
from api.routes.documents import in_pool
from core.errors import InvalidInput
from workflow.access import RecordRef

router = APIRouter(prefix="/api/v1", tags=["verification"])


@router.post("/verify", responses={
    200: {"content": {"application/json": {}, "application/pdf": {}},
          "description": "The verification report"},
    401: {"description": "Not authenticated"}, 403: {"description": "Refused by policy"},
    413: {"description": "Upload too large"}, 422: {"description": "Invalid input"}},
    summary="Verify an uploaded PDF (any PDF, including hostile ones)")
async def verify(
    principal: PrincipalDep,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="The PDF to verify")],
    format: Annotated[Literal["json", "pdf"], Query()] = "json",
    lang: Annotated[Literal["vi", "en"], Query()] = "vi",
    at: Annotated[datetime | None, Query(description="Validate as of this time")] = None,
) -> Response:
    authorize(services, principal, "verify", RecordRef(tenant=principal.tenant))
    data = await file.read()
    if not data:
        raise InvalidInput("verify.empty", "Tệp rỗng.", "The file is empty.")
    report = await in_pool(services, _verify, services, data, at, lang)
    digest = hashlib.sha256(data).hexdigest()
    services.trail.record("verify", actor=principal,
                          details={"sha256": digest, "verdict": str(report.verdict)})
    if format == "pdf":
        pdf = await in_pool(services, sealed_report_pdf, services, report, lang,
                            file.filename or "document.pdf", principal.tenant)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="verification-report.pdf"'})
    return JSONResponse(report.to_dict())


def _verify(services: Any, data: bytes, at: datetime | None, lang: str) -> Any:
    from signer.verify import verify_pdf

    # With the development PKI its OCSP/CRL are this very service: use what the file
    # carries (B-LT/B-LTA documents hold their validation data in the DSS).
    offline = services.pki is not None or not services.settings.revocation_online
    return verify_pdf(data, trust_roots=services.trust_roots, at=at, offline=offline,
                      lang=lang)


SEAL_FIELD = "hospital_seal"


def sealed_report_pdf(services: Any, report: Any, lang: str, filename: str,
                      tenant: str | None = None) -> bytes:
    """The printable report (PDF/A-3b) sealed by the hospital (B-LTA, the
    tenant's organisation seal key, the service's TSA and revocation data)."""
    import asyncio
    from dataclasses import replace

    from signer.request import SignRequest
    from signer.sign import async_sign_pdf
    from signer.verify.report_pdf import SEAL_BOX, render_report_pdf
    from workflow.seeding import tenant_seal_key

    tenant = tenant or services.settings.hospital_code
    pdf = render_report_pdf(replace(report, filename=filename), lang)
    key = tenant_seal_key(services, tenant)
    holder = _common_name(services.keystore.key_info(key).subject)
    vi = lang != "en"
    request = SignRequest(
        field_name=SEAL_FIELD, signer_name=holder,
        role="Con dấu của cơ sở" if vi else "Organisation seal",
        reason="Báo cáo kiểm tra chữ ký số do hsba lập" if vi
        else "Signature verification report issued by hsba",
        location=tenant, level="B-LTA", method="seal", create_field_box=SEAL_BOX,
        appearance_lines=(f"SHA-256: {report.sha256[:16]}…",))
    signer = services.keystore.signer_for(key)
    return asyncio.run(async_sign_pdf(pdf, request, signer=signer,
                                      timestampers=services.timestampers(),
                                      revocation=services.revocation()))


def _common_name(subject: str) -> str:
    """``Common Name: X, Organization: Y`` → ``X`` (the subject itself otherwise)."""
    for part in subject.split(", "):
        if part.startswith("Common Name: "):
            return part.removeprefix("Common Name: ")
    return subject
