"""One PDF signature through pyHanko's AdES validation, summarised for people.

pyHanko's own mechanisms do the work: ``ades_lta_validation`` (signature,
timestamps, DSS, past validation), its difference analysis (coverage,
modification level, DocMDP/FieldMDP). This module only turns the result into a
:class:`SignatureReport` and decides the PAdES level reached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.validation.ades import (
    AdESBasicValidationResult,
    ades_basic_validation,
    ades_lta_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import ModificationInfo, PdfSignatureStatus
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from signer.verify import explain
from signer.verify.model import CertificateInfo, Finding, SignatureReport

log = logging.getLogger(__name__)

ROLE_FIELDS = {
    "doctor", "patient", "head_of_department", "nurse", "cashier", "technician",
    "approving_physician", "director", "pharmacist", "representative",
}


@dataclass(frozen=True)
class ValidationSetup:
    spec: PdfSignatureValidationSpec
    timing: ValidationTimingInfo | None


def make_setup(trust_roots: list[x509.Certificate], at: datetime | None,
               offline: bool, *, pin_now: bool = False) -> ValidationSetup:
    """The pyHanko validation specification for one verification run.

    ``pin_now``: without ``at``, validate every signature of the file as of
    one moment (now), so the work they share is done once."""
    revinfo_policy = CertRevTrustPolicy(
        RevocationCheckingPolicy(
            ee_certificate_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
            intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
        )
    )
    cert_policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=trust_roots),
        revinfo_policy=revinfo_policy,
    )
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=(
            RevinfoOnlineFetchingRule.LOCAL_ONLY if offline
            else RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH
        )
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(cert_validation_policy=cert_policy,
                                revinfo_gathering_policy=gathering),
        diff_policy=DEFAULT_DIFF_POLICY,
    )
    timing = None
    if at is not None:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        timing = ValidationTimingInfo(validation_time=at, best_signature_time=at,
                                      point_in_time_validation=True)
    elif pin_now:
        timing = ValidationTimingInfo.now()
    return ValidationSetup(spec, timing)


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def cert_info(cert: x509.Certificate | None) -> CertificateInfo | None:
    if cert is None:
        return None
    return CertificateInfo(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        not_before=_iso(cert["tbs_certificate"]["validity"]["not_before"].native) or "",
        not_after=_iso(cert["tbs_certificate"]["validity"]["not_after"].native) or "",
        sha256=hashlib.sha256(cert.dump()).hexdigest(),
    )


def common_name(cert: x509.Certificate | None) -> str:
    if cert is None:
        return ""
    try:
        return str(cert.subject.native.get("common_name") or cert.subject.human_friendly)
    except Exception:  # noqa: BLE001 - odd subjects must not break a report
        return cert.subject.human_friendly


def _text(sig_object: Any, key: str) -> str | None:
    try:
        v = sig_object.get(key)
        return None if v is None else str(v)
    except Exception:  # noqa: BLE001
        return None


def guess_role(field_name: str, reason: str | None, location: str | None,
               cert: x509.Certificate | None) -> str | None:
    for text in (reason, location):
        if text:
            low = text.lower()
            for marker in ("role:", "vai trò:", "vai tro:"):
                if marker in low:
                    return text[low.index(marker) + len(marker):].split(";")[0].strip()
    leaf = field_name.split(".")[-1]
    if leaf in ROLE_FIELDS:
        return leaf
    if cert is not None:
        title = cert.subject.native.get("title")
        if title:
            return str(title)
    return None


def _coverage(status: Any) -> str:
    cov = getattr(status, "coverage", None)
    name = getattr(cov, "name", None)
    if name in ("ENTIRE_FILE", "ENTIRE_REVISION"):
        return str(name)
    if name is None:
        return "UNKNOWN"
    return "PARTIAL"


def _changes(status: Any) -> str:
    level = getattr(status, "modification_level", None)
    return getattr(level, "name", None) or "UNKNOWN"


def _indication(subindic: Any) -> tuple[str, str | None]:
    if subindic is None:
        return "INDETERMINATE", "GENERIC"
    if subindic.status == AdESStatus.PASSED:
        return "TOTAL_PASSED", None
    if subindic.status == AdESStatus.FAILED:
        return "TOTAL_FAILED", subindic.standard_name
    return "INDETERMINATE", subindic.standard_name


def dss_local_knowledge(reader: Any) -> LocalKnowledge:
    """The DSS's certificates, CRLs and OCSP responses as local knowledge."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return LocalKnowledge()
    ocsps = [
        c for r in dss.ocsps for c in OCSPContainer.load_multi(
            OCSPResponse.load(r.get_object().read_data(DecodePurpose.OCSP_RESPONSE)))
    ]
    crls = [CRLContainer(CertificateList.load(c.get_object().read_data(DecodePurpose.CRL)))
            for c in dss.crls]
    return LocalKnowledge(known_ocsps=ocsps, known_crls=crls, known_certs=list(dss.load_certs()))


async def run_ades(emb: EmbeddedPdfSignature, setup: ValidationSetup,
                   doc_ts_revisions: list[int]) -> AdESBasicValidationResult:
    """The ETSI EN 319 102-1 process that fits what the signature carries:
    LTA when a document timestamp follows it, with-time when it has a signature
    timestamp, basic otherwise."""
    if any(r > emb.signed_revision for r in doc_ts_revisions):
        return await ades_lta_validation(emb, setup.spec, timing_info=setup.timing)
    sig_spec = setup.spec.signature_validation_spec
    spec = dataclasses.replace(sig_spec, local_knowledge=dss_local_knowledge(emb.reader))
    kwargs: dict[str, Any] = {
        "timing_info": setup.timing, "raw_digest": emb.compute_digest(),
        "extra_status_kwargs": emb.summarise_integrity_info(), "status_cls": PdfSignatureStatus,
    }
    if _has_signature_timestamp(emb):
        return await ades_with_time_validation(emb.signed_data, spec, **kwargs)
    # pyHanko 0.38's basic process builds a plain CMS status whatever status_cls
    # says, so the PDF-specific integrity facts are read from ``emb`` instead.
    del kwargs["extra_status_kwargs"], kwargs["status_cls"]
    return await ades_basic_validation(emb.signed_data, spec, **kwargs)


def _has_signature_timestamp(emb: EmbeddedPdfSignature) -> bool:
    try:
        attrs = emb.signer_info["unsigned_attrs"]
        return any(a["type"].native == "signature_time_stamp_token" for a in attrs)
    except Exception:  # noqa: BLE001
        return False


def validate_signature(
    emb: EmbeddedPdfSignature, setup: ValidationSetup, lang: str,
    dss_revisions: list[int], doc_ts_revisions: list[int],
) -> tuple[SignatureReport, AdESBasicValidationResult | None]:
    """Run pyHanko's AdES LTA validation on one signature and summarise it."""
    cert = None
    try:
        cert = emb.signer_cert
    except Exception:  # noqa: BLE001 - no usable certificate in a broken CMS
        log.debug("no signer certificate in %s", emb.field_name)
    field_name = emb.field_name
    reason = _text(emb.sig_object, "/Reason")
    location = _text(emb.sig_object, "/Location")
    claimed = emb.self_reported_timestamp
    emb.compute_integrity_info(diff_policy=setup.spec.diff_policy)
    result = asyncio.run(run_ades(emb, setup, doc_ts_revisions))
    st = result.api_status
    mod = ModificationInfo(**emb.summarise_integrity_info())
    indication, sub = _indication(result.ades_subindic)
    intact = bool(getattr(st, "intact", False))
    valid = bool(getattr(st, "valid", False))
    ts_status = getattr(st, "timestamp_validity", None)
    ts_valid = None
    proven = None
    if ts_status is not None:
        ts_valid = bool(ts_status.intact and ts_status.valid)
        if ts_valid:
            proven = ts_status.timestamp
    elif _has_signature_timestamp(emb):
        ts_valid = False
    path = getattr(st, "validation_path", None)
    chain: tuple[str, ...] = ()
    if path is not None:
        try:
            chain = tuple(c.subject.human_friendly for c in reversed(list(path)))
        except Exception:  # noqa: BLE001
            chain = ()
    revocation = "NOT_CHECKED"
    if sub in ("REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE"):
        revocation = "REVOKED"
    elif indication == "TOTAL_PASSED" or getattr(st, "trusted", False):
        revocation = "GOOD"
    elif sub in ("TRY_LATER",):
        revocation = "UNKNOWN"
    level = None
    if intact and valid:
        level = "B-B"
        if ts_valid:
            level = "B-T"
            # B-LT: validation data written to the DSS after signing;
            # B-LTA: a valid document timestamp covering such a DSS revision.
            after = [d for d in dss_revisions if d >= emb.signed_revision]
            if after:
                level = "B-LT"
                if any(t >= min(after) for t in doc_ts_revisions):
                    level = "B-LTA"
    docmdp = emb.docmdp_level
    fieldmdp_ok = None
    if emb.fieldmdp is not None:
        fieldmdp_ok = _changes(mod) != "OTHER"
    findings: list[Finding] = []
    if result.failure_msg and indication != "TOTAL_PASSED":
        findings.append(Finding("pyhanko.failure", "info", result.failure_msg, result.failure_msg))
    report = SignatureReport(
        field_name=field_name,
        kind="signature",
        signer=common_name(cert),
        certificate=cert_info(cert),
        role=guess_role(field_name, reason, location, cert),
        reason=reason,
        location=location,
        signing_time=_iso(proven or claimed),
        claimed_time=_iso(claimed),
        proven_time=_iso(proven),
        time_source="timestamp" if proven else ("claimed" if claimed else "none"),
        integrity=intact and valid,
        digest_ok=intact,
        signature_ok=valid,
        coverage=_coverage(mod),  # type: ignore[arg-type]
        changes=_changes(mod),  # type: ignore[arg-type]
        docmdp=docmdp.value if docmdp is not None else None,
        docmdp_ok=mod.docmdp_ok,
        fieldmdp_ok=fieldmdp_ok,
        trusted=bool(getattr(st, "trusted", False)) or indication == "TOTAL_PASSED",
        certificate_path=chain,
        revocation=revocation,  # type: ignore[arg-type]
        timestamp_valid=ts_valid,
        level=level,
        indication=indication,  # type: ignore[arg-type]
        subindication=sub,
        explanation_vi=explain.explain(explain.SUBINDICATIONS, sub, "vi"),
        explanation_en=explain.explain(explain.SUBINDICATIONS, sub, "en"),
        findings=tuple(findings),
        signed_revision=emb.signed_revision,
    )
    return report, result


def failed_signature(field_name: str, sub: str, message_vi: str, message_en: str,
                     cert: x509.Certificate | None = None,
                     indication: str = "TOTAL_FAILED") -> SignatureReport:
    """A report for a signature pyHanko could not even process."""
    return SignatureReport(
        field_name=field_name, kind="signature", signer=common_name(cert),
        certificate=cert_info(cert), role=None, reason=None, location=None,
        signing_time=None, claimed_time=None, proven_time=None, time_source="none",
        integrity=False, digest_ok=False, signature_ok=False, coverage="UNKNOWN",
        changes="UNKNOWN", docmdp=None, docmdp_ok=None, fieldmdp_ok=None,
        trusted=False, certificate_path=(), revocation="NOT_CHECKED",
        timestamp_valid=None, level=None, indication=indication,  # type: ignore[arg-type]
        subindication=sub,
        explanation_vi=explain.explain(explain.SUBINDICATIONS, sub, "vi"),
        explanation_en=explain.explain(explain.SUBINDICATIONS, sub, "en"),
        findings=(Finding("signature.unreadable", "fatal", message_vi, message_en),),
    )

