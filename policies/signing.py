"""Signing policy of one form: who signs, in what order, how, with what strength.

One YAML file per form (``policies/defaults/signing/<form>.yaml``), e.g.::

    kind: signing
    version: "2026.1"
    form: discharge_paper
    certify: {role: doctor, docmdp: fill_forms}
    final_level: B-LTA
    steps:
      - role: doctor
        methods: [hsm_key, remote_signing]
      - role: director
        alternatives: [head_of_department]
        methods: [hsm_key, remote_signing]

``steps`` is ordered; an item ``parallel: [step, step]`` is a group whose steps
may be signed in any order, all of them before the next item. A step is done
when any of its accepted roles (``role``, ``alternatives``, and
``representative`` when ``representative_allowed``) has signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from core.errors import PolicyError
from policies.vocabulary import (
    LAW_BASIS_ALGORITHMS,
    LAW_MIN_EC_BITS,
    LAW_MIN_RSA_BITS,
    METHOD_LABELS,
    ROLE_LABELS,
    Digest,
    DocMdpLevel,
    PadesLevel,
    SignatureAlgorithm,
    SignerRole,
    SigningMethod,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Step(BaseModel):
    """One signature the form needs."""

    model_config = _FROZEN

    role: SignerRole
    """The role (and, unless ``field`` says otherwise, the signature field)."""
    methods: tuple[SigningMethod, ...] = Field(min_length=1)
    """How this signature may be made."""
    alternatives: tuple[SignerRole, ...] = ()
    """Other roles that may sign this step instead (e.g. the head of department for the
    director, "Giám đốc/Trưởng khoa"); they sign in the same field."""
    representative_allowed: bool = False
    """The patient's legal representative may confirm instead of the patient."""
    representative_field: str | None = None
    """Field the representative signs in when the form has its own block for them
    (absent = the patient's field)."""
    seal: SigningMethod | None = None
    """``organisation_seal``: the hospital seals a patient confirmation (pad, fingerprint,
    OTP) bound to the document hash."""
    repeatable: bool = False
    """Signed again for each entry (treatment and care sheets)."""
    deadline_hours: int | None = Field(default=None, gt=0)
    """Hours after the document's creation by which this step must be signed."""
    field: str | None = None
    """Signature field of ``role`` and its ``alternatives``, when it differs from ``role``."""
    label_vi: str | None = None
    label_en: str | None = None

    @property
    def field_name(self) -> str:
        return self.field or self.role

    def field_for(self, role: str) -> str:
        """The signature field ``role`` signs in for this step."""
        if role == "representative" and self.representative_field:
            return self.representative_field
        return self.field_name

    @property
    def accepted_roles(self) -> tuple[str, ...]:
        extra = ("representative",) if self.representative_allowed else ()
        return (self.role, *self.alternatives, *extra)

    def label(self, lang: str = "vi") -> str:
        own = self.label_en if lang == "en" else self.label_vi
        return own or ROLE_LABELS[self.role][1 if lang == "en" else 0]


class ParallelGroup(BaseModel):
    """Steps signed in any order among themselves."""

    model_config = _FROZEN
    parallel: tuple[Step, ...] = Field(min_length=2)


def _stage_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "parallel" if "parallel" in value else "step"
    return "parallel" if isinstance(value, ParallelGroup) else "step"


Stage = Annotated[
    Annotated[Step, Tag("step")] | Annotated[ParallelGroup, Tag("parallel")],
    Discriminator(_stage_kind),
]


class Certification(BaseModel):
    """The first signature certifies the document (DocMDP)."""

    model_config = _FROZEN
    role: SignerRole
    docmdp: DocMdpLevel = "fill_forms"


class Algorithms(BaseModel):
    """Accepted signature algorithms and strengths; never weaker than the law."""

    model_config = _FROZEN
    allowed: tuple[SignatureAlgorithm, ...] = ("rsa-pss", "rsa-pkcs1v15", "ecdsa")
    preferred: SignatureAlgorithm = "rsa-pss"
    min_rsa_bits: int = LAW_MIN_RSA_BITS
    min_ec_bits: int = LAW_MIN_EC_BITS
    digests: tuple[Digest, ...] = ("sha256", "sha384", "sha512")


class SignatureAttempt(BaseModel):
    """A signature about to be made, as the signing policy sees it."""

    model_config = ConfigDict(frozen=True)
    role: str
    method: str
    algorithm: str
    key_size: int
    digest: str
    signed_roles: tuple[str, ...] = ()


class SigningPolicy(BaseModel):
    """The signing rules of one form (and optionally only some of its versions)."""

    model_config = _FROZEN

    kind: str = "signing"
    version: str
    """The policy file's own version (the hospital's numbering)."""
    form: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    form_versions: tuple[str, ...] | None = None
    """Form versions this policy covers; absent = every version."""
    title_vi: str
    title_en: str
    legal_basis: str
    certify: Certification | None = None
    final_level: PadesLevel = "B-LTA"
    archived: bool = True
    """Archived documents must reach B-LTA (DESIGN §4)."""
    timestamp_each_signature: bool = True
    algorithms: Algorithms = Algorithms()
    steps: tuple[Stage, ...] = Field(min_length=1)
    sha256: str = ""
    """Digest of the file this policy came from (set by the loader)."""
    source: str = ""
    """Where it came from: ``defaults/signing/x.yaml`` or the hospital's path."""

    # --- structure ---------------------------------------------------------------------
    @property
    def stages(self) -> tuple[tuple[Step, ...], ...]:
        return tuple(s.parallel if isinstance(s, ParallelGroup) else (s,) for s in self.steps)

    @property
    def all_steps(self) -> tuple[Step, ...]:
        return tuple(step for stage in self.stages for step in stage)

    @property
    def identifier(self) -> str:
        """``form@version#digest``: what the workflow records with a signature."""
        return f"{self.form}@{self.version}#{self.sha256[:12]}"

    def step_for(self, role: str) -> Step | None:
        for step in self.all_steps:
            if role in step.accepted_roles:
                return step
        return None

    @staticmethod
    def _done(step: Step, signed: Sequence[str]) -> bool:
        return any(r in signed for r in step.accepted_roles)

    # --- questions the workflow asks ---------------------------------------------------
    def next_steps(self, signed_roles: Sequence[str]) -> list[Step]:
        """The steps that may be signed now (empty when the form is complete)."""
        for stage in self.stages:
            pending = [s for s in stage if not self._done(s, signed_roles)]
            if pending:
                return pending
        return []

    def is_complete(self, signed_roles: Sequence[str]) -> bool:
        return not self.next_steps(signed_roles)

    def certifies(self, role: str, signed_roles: Sequence[str] = ()) -> bool:
        """Whether this signature should certify the document (first signature only)."""
        if self.certify is None or signed_roles:
            return False
        step = self.step_for(role)
        return step is not None and step is self.step_for(self.certify.role)

    def deadline(self, step: Step, created_at: datetime) -> datetime | None:
        return created_at + timedelta(hours=step.deadline_hours) if step.deadline_hours else None

    def overdue_steps(self, signed_roles: Sequence[str], created_at: datetime,
                      now: datetime) -> list[Step]:
        """Unsigned steps whose deadline has passed."""
        return [s for s in self.all_steps
                if not self._done(s, signed_roles) and s.deadline_hours
                and now > created_at + timedelta(hours=s.deadline_hours)]

    def check(self, attempt: SignatureAttempt) -> None:
        """The :class:`policies.protocol.Policy` face of :meth:`check_signature`."""
        self.check_signature(attempt.role, attempt.method, attempt.algorithm,
                             attempt.key_size, attempt.digest, attempt.signed_roles)

    def check_signature(self, role: str, method: str, algorithm: str, key_size: int,
                        digest: str, signed_roles: Sequence[str]) -> None:
        """Refuse (``PolicyError``) a signature out of order, by a disallowed method, or
        weaker than this policy; return ``None`` when it may be made."""
        form = self.form
        step = self.step_for(role)
        if step is None:
            roles = ", ".join(r for s in self.all_steps for r in s.accepted_roles)
            raise PolicyError(
                "policy.role_not_in_form",
                f"Vai trò '{role}' không ký biểu mẫu {form}; các vai trò ký: {roles}.",
                f"Role '{role}' does not sign form {form}; its signers are: {roles}.",
                details={"form": form, "role": role})
        if self._done(step, signed_roles) and not step.repeatable:
            raise PolicyError(
                "policy.already_signed",
                f"Bước '{step.label('vi')}' của biểu mẫu {form} đã được ký.",
                f"The step '{step.label('en')}' of form {form} is already signed.",
                details={"form": form, "role": role})
        allowed_now = self.next_steps(signed_roles)
        may_repeat = step.repeatable and self._done(step, signed_roles)
        if step not in allowed_now and not may_repeat:
            want_vi = ", ".join(s.label("vi") for s in allowed_now)
            want_en = ", ".join(s.label("en") for s in allowed_now)
            raise PolicyError(
                "policy.out_of_order",
                f"Sai thứ tự ký biểu mẫu {form}: '{step.label('vi')}' chưa được ký lúc này; "
                f"cần ký trước: {want_vi}.",
                f"Out of order for form {form}: '{step.label('en')}' cannot sign yet; "
                f"waiting for: {want_en}.",
                details={"form": form, "role": role,
                         "expected": [s.role for s in allowed_now]})
        if method not in step.methods:
            ok_vi = ", ".join(METHOD_LABELS[m][0] for m in step.methods)
            ok_en = ", ".join(step.methods)
            raise PolicyError(
                "policy.method_not_allowed",
                f"Phương thức '{method}' không được phép cho '{step.label('vi')}' trên biểu mẫu "
                f"{form}; được phép: {ok_vi}.",
                f"Method '{method}' is not allowed for '{step.label('en')}' on form {form}; "
                f"allowed: {ok_en}.",
                details={"form": form, "role": role, "method": method,
                         "allowed": list(step.methods)})
        self.check_algorithm(algorithm, key_size, digest)

    def check_algorithm(self, algorithm: str, key_size: int, digest: str) -> None:
        """Refuse a key or digest weaker than this policy (never weaker than the law)."""
        algs = self.algorithms
        problem: tuple[str, str] | None = None
        if algorithm not in algs.allowed:
            problem = ((f"thuật toán '{algorithm}' không được chấp nhận "
                       f"(chấp nhận: {', '.join(algs.allowed)})"),
                       (f"algorithm '{algorithm}' is not accepted "
                       f"(accepted: {', '.join(algs.allowed)})"))
        elif algorithm.startswith("rsa") and key_size < algs.min_rsa_bits:
            problem = (f"khóa RSA {key_size} bit yếu hơn mức tối thiểu {algs.min_rsa_bits} bit",
                       f"RSA key of {key_size} bits is below the minimum {algs.min_rsa_bits}")
        elif algorithm == "ecdsa" and key_size < algs.min_ec_bits:
            problem = (f"khóa EC {key_size} bit yếu hơn mức tối thiểu {algs.min_ec_bits} bit",
                       f"EC key of {key_size} bits is below the minimum {algs.min_ec_bits}")
        elif digest.lower().replace("-", "") not in {d.replace("_", "") for d in algs.digests}:
            problem = ((f"hàm băm '{digest}' không được chấp nhận "
                       f"(chấp nhận: {', '.join(algs.digests)})"),
                       f"digest '{digest}' is not accepted (accepted: {', '.join(algs.digests)})")
        if problem:
            raise PolicyError(
                "policy.weak_algorithm",
                f"Chữ ký trên biểu mẫu {self.form} bị từ chối: {problem[0]} "
                f"({LAW_BASIS_ALGORITHMS}).",
                f"Signature on form {self.form} refused: {problem[1]} ({LAW_BASIS_ALGORITHMS}).",
                details={"form": self.form, "algorithm": algorithm, "key_size": key_size,
                         "digest": digest})

    def covers(self, form_version: str | None) -> bool:
        return self.form_versions is None or form_version in self.form_versions
