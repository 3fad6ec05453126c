"""The words policy files may use, and the legal floors no file may go below.

Roles are the signature-field names of the form catalogue (docs/CONTRACTS.md);
methods are how a person signs or confirms (TT 13/2025/TT-BYT Đ3); the
algorithm floor is TT 15/2025/TT-BKHCN. A hospital's file may be stricter than
these floors, never weaker.
"""

from __future__ import annotations

from typing import Literal, get_args

SignerRole = Literal[
    "doctor", "patient", "representative", "head_of_department", "nurse", "cashier",
    "technician", "approving_physician", "director", "pharmacist",
]
SIGNER_ROLES: tuple[str, ...] = get_args(SignerRole)

ROLE_LABELS: dict[str, tuple[str, str]] = {
    "doctor": ("Bác sĩ điều trị", "Treating doctor"),
    "patient": ("Người bệnh", "Patient"),
    "representative": ("Người đại diện hợp pháp của người bệnh", "Patient's legal representative"),
    "head_of_department": ("Trưởng khoa", "Head of department"),
    "nurse": ("Điều dưỡng", "Nurse"),
    "cashier": ("Người lập bảng kê / thu ngân", "Cashier"),
    "technician": ("Kỹ thuật viên", "Laboratory technician"),
    "approving_physician": ("Bác sĩ duyệt kết quả", "Approving physician"),
    "director": ("Giám đốc cơ sở", "Director"),
    "pharmacist": ("Dược sĩ", "Pharmacist"),
}

PATIENT_ROLES = frozenset({"patient", "representative"})
"""People who are not staff: they confirm, and the hospital seals the confirmation."""

SigningMethod = Literal[
    "hsm_key", "remote_signing", "patient_pad", "fingerprint", "otp",
    "patient_own_signature", "organisation_seal",
]
SIGNING_METHODS: tuple[str, ...] = get_args(SigningMethod)

STAFF_METHODS = frozenset({"hsm_key", "remote_signing"})
"""Staff sign with their own digital signature (TT 13/2025/TT-BYT Đ3)."""
CONFIRMATION_METHODS = frozenset({"patient_pad", "fingerprint", "otp"})
"""Patient confirmations: bound to the document hash and sealed by the hospital seal."""
PATIENT_METHODS = CONFIRMATION_METHODS | {"patient_own_signature"}

METHOD_LABELS: dict[str, tuple[str, str]] = {
    "hsm_key": ("chữ ký số bằng khóa trên HSM", "digital signature with an HSM key"),
    "remote_signing": ("ký số từ xa (CSC / ứng dụng xác nhận)",
                       "remote signing (CSC / app-confirmed provider)"),
    "patient_pad": ("ký tay trên bảng ký điện tử", "handwritten signature on a signing pad"),
    "fingerprint": ("xác nhận bằng vân tay", "fingerprint confirmation"),
    "otp": ("xác nhận bằng mã OTP", "one-time code (OTP) confirmation"),
    "patient_own_signature": ("chữ ký số của chính người bệnh", "the patient's own digital signature"),
    "organisation_seal": ("con dấu số của cơ sở", "the hospital's organisation seal"),
}

DocMdpLevel = Literal["no_changes", "fill_forms", "annotate"]
PadesLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]
PADES_ORDER: tuple[str, ...] = ("B-B", "B-T", "B-LT", "B-LTA")

SignatureAlgorithm = Literal["rsa-pkcs1v15", "rsa-pss", "ecdsa"]
SIGNATURE_ALGORITHMS: tuple[str, ...] = get_args(SignatureAlgorithm)
Digest = Literal["sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"]
LAW_DIGESTS: frozenset[str] = frozenset(get_args(Digest))
LAW_MIN_RSA_BITS = 2048
LAW_MIN_EC_BITS = 256
LAW_BASIS_ALGORITHMS = "TT 15/2025/TT-BKHCN"

# --- access ---------------------------------------------------------------------------
UserRole = Literal[
    "clinician", "nurse", "head_of_department", "cashier", "kiosk", "auditor",
    "integration", "admin",
]
USER_ROLES: tuple[str, ...] = get_args(UserRole)
Action = Literal["view", "print", "export", "sign", "verify", "administer", "create"]
ACTIONS: tuple[str, ...] = get_args(Action)
Relationship = Literal["treating_team", "same_department", "auditor_grant", "own_record",
                       "same_tenant"]
RELATIONSHIPS: tuple[str, ...] = get_args(Relationship)

# --- retention (names shared with archive.retention.RetentionClass) -------------------
RetentionClassName = Literal[
    "OUTPATIENT_10Y", "INPATIENT_10Y", "MENTAL_ILLNESS_20Y", "OCCUPATIONAL_ACCIDENT_20Y",
    "TRAFFIC_ACCIDENT_20Y", "COSMETIC_20Y", "TRANSPLANT_20Y", "ORGAN_DONOR_RECIPIENT_30Y",
    "DEATH_30Y", "MEDICAL_INCIDENT_PERMANENT",
]
RETENTION_CLASSES: tuple[str, ...] = get_args(RetentionClassName)
LAW_RETENTION_YEARS: dict[str, int | None] = {
    "OUTPATIENT_10Y": 10, "INPATIENT_10Y": 10, "MENTAL_ILLNESS_20Y": 20,
    "OCCUPATIONAL_ACCIDENT_20Y": 20, "TRAFFIC_ACCIDENT_20Y": 20, "COSMETIC_20Y": 20,
    "TRANSPLANT_20Y": 20, "ORGAN_DONOR_RECIPIENT_30Y": 30, "DEATH_30Y": 30,
    "MEDICAL_INCIDENT_PERMANENT": None,
}
"""TT 33/2025/TT-BYT minimum years; ``None`` means kept permanently."""
