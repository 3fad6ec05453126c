"""FHIR R4 endpoints for exchange with other hospitals of the province:
``DocumentReference`` search by patient identifier, ``Binary`` (the signed
PDF), ``Provenance`` (one per signature), ``Patient`` read (from the EMR).

Resources are validated with ``fhir.resources.R4B`` before they are returned.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from api.deps import PrincipalDep, ServicesDep, authorize
from api.routes.documents import in_pool
from core.errors import NotFound
from workflow.access import RecordRef

router = APIRouter(prefix="/fhir/r4", tags=["fhir"])
FHIR_JSON = "application/fhir+json"
CCCD_SYSTEM = "urn:oid:2.16.704.1.0.1"  # số định danh cá nhân (placeholder OID, see docs)
BHYT_SYSTEM = "urn:vn:bhyt"
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
_ERR: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"},
                                         403: {"description": "Refused by policy"},
                                         404: {"description": "Not found"},
                                         422: {"description": "Invalid input"}}


def _fhir(resource: dict[str, Any], status: int = 200) -> JSONResponse:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)  # validates
    return JSONResponse(resource, status_code=status, media_type=FHIR_JSON)


def _document_reference(d: Any, base: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "DocumentReference", "id": d.id, "status": "current",
        "docStatus": "final" if d.status == "archived" else "preliminary",
        "type": {"coding": [{"system": "urn:hsba:form", "code": d.form_code}]},
        "date": d.created_at.isoformat(),
        "custodian": {"identifier": {"system": "urn:vn:mscskcb", "value": d.tenant_id}},
        "content": [{"attachment": {"contentType": "application/pdf",
                                    "url": f"{base}/fhir/r4/Binary/{d.id}"},
                     "format": {"system": "urn:hsba:pades", "code": "B-LTA"}}],
    }
    if d.patient_ref:
        res["subject"] = {"reference": f"Patient/{d.patient_ref}"}
    return res


@router.get("/DocumentReference", responses=_ERR,
            summary="Search signed documents by the patient's identifier (system|value)")
async def search_document_references(
    principal: PrincipalDep, services: ServicesDep,
    patient_identifier: Annotated[str | None, Query(alias="patient.identifier",
                                                    max_length=128)] = None,
    patient: Annotated[str | None, Query(max_length=64)] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=200)] = 50,
) -> JSONResponse:
    authorize(services, principal, "view", RecordRef(tenant=principal.tenant))
    cccd = bhyt = None
    if patient_identifier:
        system, _, value = patient_identifier.rpartition("|")
        if system == BHYT_SYSTEM or (not system and not value.isdigit()):
            bhyt = value.upper()
        else:
            cccd = value
    if not (cccd or bhyt or patient):
        from core.errors import InvalidInput

        raise InvalidInput("fhir.search_needs_patient", "Cần định danh người bệnh.",
                           "A patient identifier is required.")
    page = await in_pool(services, services.index.search, principal.tenant, patient_cccd=cccd,
                         patient_bhyt=bhyt, patient_ref=patient, limit=count)
    services.trail.record("view", actor=principal, details={"fhir_search": len(page.items)})
    base = services.settings.base_url
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(page.items),
              "entry": [{"fullUrl": f"{base}/fhir/r4/DocumentReference/{d.id}",
                         "resource": _document_reference(d, base),
                         "search": {"mode": "match"}} for d in page.items]}
    return _fhir(bundle)


@router.get("/DocumentReference/{document_id}", responses=_ERR, summary="One DocumentReference")
async def read_document_reference(document_id: Id, principal: PrincipalDep,
                                  services: ServicesDep) -> JSONResponse:
    await in_pool(services, services.documents.get, principal, document_id)
    info = await in_pool(services, services.index.get, document_id)
    return _fhir(_document_reference(info, services.settings.base_url))


@router.get("/Binary/{document_id}", response_class=Response, responses={
    **_ERR, 200: {"content": {"application/pdf": {}}, "description": "The signed PDF"}},
    summary="The signed PDF of a document")
async def binary(document_id: Id, principal: PrincipalDep, services: ServicesDep) -> Response:
    view, pdf = await in_pool(services, services.documents.pdf, principal, document_id, None,
                              action="export")
    return Response(pdf, media_type="application/pdf", headers={"ETag": view.etag})


@router.get("/Provenance", responses=_ERR,
            summary="Signatures of a document as Provenance (target=DocumentReference/ID)")
async def provenance(principal: PrincipalDep, services: ServicesDep,
                     target: Annotated[str, Query(max_length=128)]) -> JSONResponse:
    document_id = target.rsplit("/", 1)[-1]
    await in_pool(services, services.documents.get, principal, document_id)
    sigs = await in_pool(services, services.index.signatures, document_id)
    base = services.settings.base_url
    entries = []
    for i, s in enumerate(sigs):
        agent: dict[str, Any] = {"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "author" if s.role not in ("patient", "representative") else "attester"}]},
            "who": {"display": s.signer_subject[:200]}}
        if s.practitioner_id:
            agent["who"]["identifier"] = {"system": "urn:hsba:practitioner",
                                          "value": s.practitioner_id}
        entries.append({"resource": {
            "resourceType": "Provenance", "id": f"{document_id}-{i + 1}",
            "target": [{"reference": f"DocumentReference/{document_id}"}],
            "recorded": s.signed_at.isoformat(),
            "activity": {"coding": [{"system": "urn:hsba:signature-role", "code": s.role}]},
            "agent": [agent],
            "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013",
                                     "code": "1.2.840.10065.1.12.1.1"}],
                           "when": s.signed_at.isoformat(),
                           "who": {"display": s.signer_subject[:200]},
                           "sigFormat": "application/pdf",
                           "data": None}],
        }, "fullUrl": f"{base}/fhir/r4/Provenance/{document_id}-{i + 1}"})
    for e in entries:
        e["resource"]["signature"][0].pop("data")
    return _fhir({"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                  "entry": entries})


@router.get("/Patient/{patient_id}", responses=_ERR, summary="A patient (from the EMR)")
async def read_patient(patient_id: Id, principal: PrincipalDep,
                       services: ServicesDep) -> JSONResponse:
    authorize(services, principal, "view", RecordRef(tenant=principal.tenant))
    resource = await in_pool(services, _patient_resource, services, principal.tenant, patient_id)
    services.trail.record("view", actor=principal, details={"fhir": "Patient"})
    return _fhir(resource)


def _patient_resource(services: Any, tenant: str, patient_id: str) -> dict[str, Any]:
    import json

    from sqlalchemy.orm import Session

    from emr import models as emr_models
    from emr.fhir import to_fhir

    with Session(services.engine) as session:
        row = session.get(emr_models.Patient, patient_id)
        if row is None or row.tenant_id != tenant:
            raise NotFound("fhir.patient_not_found", "Không tìm thấy người bệnh.",
                           "Patient not found.")
        resource = to_fhir(row)
    return dict(json.loads(resource.model_dump_json(exclude_none=True)))
