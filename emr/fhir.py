"""Mapping between the EMR tables and FHIR R4 resources (``fhir.resources.R4B``).

``to_fhir(row)`` returns a validated FHIR resource for any EMR row;
``from_fhir(resource)`` returns a new (unsaved) row for the resources hospital
systems send us (Organization, Practitioner, Patient, RelatedPerson,
Encounter, Condition, Observation, MedicationRequest, Procedure). Identifier
systems are the project's own URNs until the Ministry publishes official ones.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from core.errors import InvalidInput
from emr import models as m

SYS_CCCD = "urn:hsba:sid:cccd"
SYS_BHYT = "urn:hsba:sid:bhyt"
SYS_CCHN = "urn:hsba:sid:cchn"
SYS_CSKCB = "urn:hsba:sid:ma-cskcb"
SYS_PATIENT_CODE = "urn:hsba:sid:ma-nguoi-benh"
SYS_RECORD_NO = "urn:hsba:sid:so-luu-tru"
SYS_ICD10 = "http://hl7.org/fhir/sid/icd-10"
SYS_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SYS_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
SYS_DEPT = "urn:hsba:organization-kind"
EXT_WARD = "urn:hsba:address:ward"
EXT_REPORT = "urn:hsba:observation:report"
"""Observation → its DiagnosticReport (FHIR links the other way, ``DiagnosticReport.result``)."""
CLASS_DISPLAY = {"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency"}


def _iso(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


def _ident(system: str, value: str | None) -> list[dict[str, str]]:
    return [{"system": system, "value": value}] if value else []


def _ref(kind: str, rid: str | None) -> dict[str, str] | None:
    return {"reference": f"{kind}/{rid}"} if rid else None


def _address(row: Any) -> list[dict[str, Any]]:
    if not (row.province or row.ward or row.address_line):
        return []
    addr: dict[str, Any] = {"country": "VN"}
    if row.address_line:
        addr["line"] = [row.address_line]
    if row.ward:
        addr["city"] = row.ward
        addr["extension"] = [{"url": EXT_WARD, "valueString": row.ward}]
    if row.province:
        addr["state"] = row.province
    return [addr]


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, [], "")}


def _resource(kind: str, data: dict[str, Any]) -> Any:
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
    return getattr(module, kind).model_validate({"resourceType": kind, **_clean(data)})


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_clean({"system": system, "code": code, "display": display})],
            **({"text": display} if display else {})}


# --- to FHIR -----------------------------------------------------------------------------

def _organization(o: m.Organization) -> Any:
    return _resource("Organization", {
        "id": o.id, "active": o.active, "name": o.name,
        "identifier": _ident(SYS_CSKCB, o.code),
        "type": [_cc(SYS_DEPT, "dept" if o.kind == "department" else "prov",
                     "Khoa" if o.kind == "department" else "Cơ sở khám bệnh, chữa bệnh")],
        "partOf": _ref("Organization", o.part_of_id), "address": _address(o),
        "telecom": [{"system": "phone", "value": o.phone}] if o.phone else [],
    })


def _practitioner(p: m.Practitioner) -> Any:
    return _resource("Practitioner", {
        "id": p.id, "active": p.active, "identifier": _ident(SYS_CCHN, p.licence_number),
        "name": [_clean({"text": p.name, "prefix": [p.title] if p.title else None})],
        "gender": p.gender, "birthDate": _iso(p.birth_date),
    })


def _practitioner_role(r: m.PractitionerRole) -> Any:
    return _resource("PractitionerRole", {
        "id": r.id, "active": r.active, "practitioner": _ref("Practitioner", r.practitioner_id),
        "organization": _ref("Organization", r.organization_id),
        "code": [_cc("urn:hsba:role", r.role)],
        "specialty": [{"text": r.specialty}] if r.specialty else [],
    })


def _patient(p: m.Patient) -> Any:
    return _resource("Patient", {
        "id": p.id,
        "identifier": (_ident(SYS_CCCD, p.cccd) + _ident(SYS_BHYT, p.bhyt_card)
                       + _ident(SYS_PATIENT_CODE, p.patient_code)),
        "name": [{"text": p.name}], "gender": p.gender, "birthDate": _iso(p.birth_date),
        "address": _address(p),
        "telecom": [{"system": "phone", "value": p.phone}] if p.phone else [],
    })


def _related_person(r: m.RelatedPerson) -> Any:
    return _resource("RelatedPerson", {
        "id": r.id, "patient": _ref("Patient", r.patient_id), "name": [{"text": r.name}],
        "identifier": _ident(SYS_CCCD, r.cccd),
        "relationship": [_cc(SYS_ROLE, r.relationship)],
        "telecom": [{"system": "phone", "value": r.phone}] if r.phone else [],
    })


def _encounter(e: m.Encounter) -> Any:
    return _resource("Encounter", {
        "id": e.id, "status": e.status,
        "class": {"system": SYS_ACT, "code": e.encounter_class,
                  "display": CLASS_DISPLAY.get(e.encounter_class)},
        "identifier": _ident(SYS_RECORD_NO, e.medical_record_no),
        "subject": _ref("Patient", e.patient_id),
        "serviceProvider": _ref("Organization", e.department_id),
        "participant": ([{"individual": _ref("Practitioner", e.attending_id)}]
                        if e.attending_id else []),
        "period": _clean({"start": _iso(e.admitted_at), "end": _iso(e.discharged_at)}),
        "reasonCode": [{"text": e.reason}] if e.reason else [],
        "hospitalization": _clean({
            "admitSource": {"text": e.admission_source} if e.admission_source else None,
            "dischargeDisposition": ({"text": e.discharge_disposition}
                                     if e.discharge_disposition else None)}),
    })


def _condition(c: m.Condition) -> Any:
    return _resource("Condition", {
        "id": c.id, "code": _cc(SYS_ICD10, c.icd10, c.display),
        "category": [_cc("http://terminology.hl7.org/CodeSystem/condition-category",
                         c.category)],
        "subject": _ref("Patient", c.patient_id), "encounter": _ref("Encounter", c.encounter_id),
        "recordedDate": _iso(c.recorded_at),
        "note": [{"text": f"role:{c.role}"}],
    })


def _quantity(v: Decimal | None, unit: str | None) -> dict[str, Any] | None:
    return _clean({"value": float(v), "unit": unit}) if v is not None else None


def _observation(o: m.Observation) -> Any:
    rr = _clean({"low": _quantity(o.reference_low, o.unit),
                 "high": _quantity(o.reference_high, o.unit)})
    return _resource("Observation", {
        "id": o.id, "status": o.status, "code": _cc(o.code_system, o.code, o.display),
        "category": [_cc("http://terminology.hl7.org/CodeSystem/observation-category",
                         "laboratory")],
        "subject": _ref("Patient", o.patient_id), "encounter": _ref("Encounter", o.encounter_id),
        "effectiveDateTime": _iso(o.effective_at),
        "extension": ([{"url": EXT_REPORT, "valueReference": _ref("DiagnosticReport",
                                                                  o.report_id)}]
                      if o.report_id else []),
        "valueQuantity": _quantity(o.value, o.unit),
        "valueString": o.value_text if o.value is None else None,
        "referenceRange": [rr] if rr else [],
        "interpretation": ([_cc("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                o.interpretation)] if o.interpretation else []),
    })


def _diagnostic_report(r: m.DiagnosticReport) -> Any:
    return _resource("DiagnosticReport", {
        "id": r.id, "status": r.status, "code": _cc("http://loinc.org", r.code, r.display),
        "category": [_cc("http://terminology.hl7.org/CodeSystem/v2-0074", r.category)],
        "subject": _ref("Patient", r.patient_id), "encounter": _ref("Encounter", r.encounter_id),
        "issued": _iso(r.issued_at), "conclusion": r.conclusion,
        "performer": [_ref("Practitioner", r.performer_id)] if r.performer_id else [],
    })


def _medication_request(r: m.MedicationRequest) -> Any:
    return _resource("MedicationRequest", {
        "id": r.id, "status": r.status, "intent": "order",
        "medicationCodeableConcept": {"text": r.medication_name, **(
            {"coding": [{"system": "urn:hsba:drug", "code": r.medication_code}]}
            if r.medication_code else {})},
        "subject": _ref("Patient", r.patient_id), "encounter": _ref("Encounter", r.encounter_id),
        "authoredOn": _iso(r.authored_at), "requester": _ref("Practitioner", r.requester_id),
        "dosageInstruction": [_clean({"text": r.dosage_text,
                                      "route": {"text": r.route} if r.route else None})],
        "dispenseRequest": {"quantity": {"value": float(r.quantity), "unit": r.unit}},
    })


def _medication_administration(a: m.MedicationAdministration) -> Any:
    return _resource("MedicationAdministration", {
        "id": a.id, "status": a.status, "subject": _ref("Patient", a.patient_id),
        "context": _ref("Encounter", a.encounter_id),
        "request": _ref("MedicationRequest", a.request_id),
        "medicationReference": _ref("MedicationRequest", a.request_id) or {"display": "?"},
        "effectiveDateTime": _iso(a.administered_at),
        "performer": ([{"actor": _ref("Practitioner", a.performer_id)}]
                      if a.performer_id else []),
        "dosage": {"dose": {"value": float(a.dose), "unit": a.unit}},
    })


def _procedure(p: m.Procedure) -> Any:
    return _resource("Procedure", {
        "id": p.id, "status": p.status, "code": _cc("urn:hsba:dvkt", p.code, p.display),
        "subject": _ref("Patient", p.patient_id), "encounter": _ref("Encounter", p.encounter_id),
        "performedDateTime": _iso(p.performed_at),
        "performer": ([{"actor": _ref("Practitioner", p.performer_id)}]
                      if p.performer_id else []),
        "note": [{"text": f"anesthesia:{p.anesthesia}"}] if p.anesthesia else [],
    })


def _charge_item(c: m.ChargeItem) -> Any:
    return _resource("ChargeItem", {
        "id": c.id, "status": "billable", "code": _cc(f"urn:hsba:charge:{c.category}", c.code,
                                                      c.display),
        "subject": _ref("Patient", c.patient_id), "context": _ref("Encounter", c.encounter_id),
        "quantity": {"value": float(c.quantity), "unit": c.unit},
        "priceOverride": {"value": float(c.unit_price), "currency": "VND"},
        "enteredDate": _iso(c.entered_at),
        "note": [{"text": f"insurance:{c.insurance_paid};patient:{c.patient_paid}"}],
    })


def _document_reference(d: m.DocumentReference) -> Any:
    return _resource("DocumentReference", {
        "id": d.id, "status": d.status, "subject": _ref("Patient", d.patient_id),
        "type": _cc("urn:hsba:form", d.form_code),
        "identifier": [{"system": "urn:hsba:archive-document", "value": d.archive_document_id}],
        "date": _iso(d.created_at),
        "content": [{"attachment": {"contentType": d.content_type,
                                    "url": f"urn:hsba:archive:{d.archive_document_id}:v{d.version}",
                                    "title": f"{d.form_code} v{d.version} sha256:{d.sha256}"}}],
        "context": ({"encounter": [_ref("Encounter", d.encounter_id)]}
                    if d.encounter_id else None),
    })


def _consent(c: m.Consent) -> Any:
    return _resource("Consent", {
        "id": c.id, "status": c.status,
        "scope": _cc("http://terminology.hl7.org/CodeSystem/consentscope", c.scope),
        "category": [_cc("urn:hsba:consent-category", c.category)],
        "patient": _ref("Patient", c.patient_id), "dateTime": _iso(c.date_time),
        "performer": ([_ref("RelatedPerson", c.representative_id)]
                      if c.representative_id else []),
        "sourceReference": _ref("DocumentReference", c.document_reference_id),
    })


def _provenance(p: m.Provenance) -> Any:
    who = (_ref("Practitioner", p.agent_practitioner_id)
           or _ref("RelatedPerson", p.agent_related_person_id))
    return _resource("Provenance", {
        "id": p.id, "target": [_ref("DocumentReference", p.document_reference_id)],
        "recorded": _iso(p.recorded_at),
        "activity": _cc("urn:hsba:activity", p.activity),
        "agent": [{"who": who, "role": [_cc("urn:hsba:role", p.agent_role)]}],
        "signature": [],
        "reason": [_cc("urn:hsba:method", p.method, p.level)],
    })


_TO: dict[type, Callable[[Any], Any]] = {
    m.Organization: _organization, m.Practitioner: _practitioner,
    m.PractitionerRole: _practitioner_role, m.Patient: _patient,
    m.RelatedPerson: _related_person, m.Encounter: _encounter, m.Condition: _condition,
    m.Observation: _observation, m.DiagnosticReport: _diagnostic_report,
    m.MedicationRequest: _medication_request,
    m.MedicationAdministration: _medication_administration, m.Procedure: _procedure,
    m.ChargeItem: _charge_item, m.DocumentReference: _document_reference,
    m.Consent: _consent, m.Provenance: _provenance,
}


def to_fhir(row: Any) -> Any:
    """The FHIR R4 resource of an EMR row (validated by ``fhir.resources``)."""
    try:
        return _TO[type(row)](row)
    except KeyError as e:
        raise InvalidInput("fhir.unsupported", "Không hỗ trợ kiểu tài nguyên này.",
                           f"Unsupported resource type {type(row).__name__}.") from e
