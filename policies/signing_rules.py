"""Rules a signing policy file must follow beyond its shape: the law and common sense.

Each rule returns :class:`~policies.source.Problem` values pointing at the line
that breaks it. A hospital may be stricter than these rules, never looser.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.signing import ParallelGroup, SigningPolicy, Step
from policies.source import Problem, SourceDoc
from policies.vocabulary import (
    CONFIRMATION_METHODS,
    LAW_BASIS_ALGORITHMS,
    LAW_MIN_EC_BITS,
    LAW_MIN_RSA_BITS,
    PATIENT_METHODS,
    PATIENT_ROLES,
    STAFF_METHODS,
)

StepPath = tuple[str | int, ...]


def _steps_with_paths(policy: SigningPolicy) -> Iterator[tuple[StepPath, Step, int]]:
    for i, stage in enumerate(policy.steps):
        if isinstance(stage, ParallelGroup):
            for j, step in enumerate(stage.parallel):
                yield ("steps", i, "parallel", j), step, i
        else:
            yield ("steps", i), stage, i


def check_signing_rules(doc: SourceDoc, policy: SigningPolicy) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    seen: dict[str, StepPath] = {}
    for path, step, _stage in _steps_with_paths(policy):
        for k, role in enumerate(step.accepted_roles):
            where = ((*path, "role") if k == 0
                     else (*path, "alternatives", k - 1) if k <= len(step.alternatives)
                     else (*path, "representative_allowed"))
            if role in seen:
                add(doc.problem(
                    where,
                    f"bước bị lặp: vai trò '{role}' đã có ở dòng {doc.line_of(seen[role])}",
                    f"duplicate step: role '{role}' already signs at line "
                    f"{doc.line_of(seen[role])}"))
            else:
                seen[role] = where
        problems.extend(_method_problems(doc, path, step))

    algs = policy.algorithms
    if algs.min_rsa_bits < LAW_MIN_RSA_BITS:
        add(doc.problem(("algorithms", "min_rsa_bits"),
                        f"RSA tối thiểu {LAW_MIN_RSA_BITS} bit theo {LAW_BASIS_ALGORITHMS}; "
                        f"tệp cho phép {algs.min_rsa_bits}",
                        f"weaker than the law: {LAW_BASIS_ALGORITHMS} requires RSA of at least "
                        f"{LAW_MIN_RSA_BITS} bits, the file allows {algs.min_rsa_bits}"))
    if algs.min_ec_bits < LAW_MIN_EC_BITS:
        add(doc.problem(("algorithms", "min_ec_bits"),
                        f"EC tối thiểu P-{LAW_MIN_EC_BITS} theo {LAW_BASIS_ALGORITHMS}; "
                        f"tệp cho phép {algs.min_ec_bits} bit",
                        f"weaker than the law: {LAW_BASIS_ALGORITHMS} requires EC of at least "
                        f"P-{LAW_MIN_EC_BITS}, the file allows {algs.min_ec_bits} bits"))
    if algs.preferred not in algs.allowed:
        add(doc.problem(("algorithms", "preferred"),
                        f"thuật toán ưu tiên '{algs.preferred}' không nằm trong danh sách cho phép",
                        f"preferred algorithm '{algs.preferred}' is not in the allowed list"))

    if policy.certify is not None:
        first = policy.stages[0]
        if len(first) != 1 or policy.certify.role not in first[0].accepted_roles:
            add(doc.problem(("certify", "role"),
                            f"chữ ký chứng nhận (DocMDP) phải là chữ ký đầu tiên; "
                            f"'{policy.certify.role}' không phải bước đầu tiên duy nhất",
                            f"the certifying (DocMDP) signature must be the first one; "
                            f"'{policy.certify.role}' is not the single first step"))
        if policy.certify.docmdp == "no_changes" and len(policy.all_steps) > 1:
            add(doc.problem(("certify", "docmdp"),
                            "DocMDP 'no_changes' sẽ làm mất hiệu lực các chữ ký sau; dùng "
                            "'fill_forms'",
                            "DocMDP 'no_changes' would invalidate the later signatures; use "
                            "'fill_forms'"))
    if policy.archived and policy.final_level != "B-LTA":
        add(doc.problem(("final_level",),
                        f"hồ sơ lưu trữ phải đạt PAdES B-LTA, tệp ghi {policy.final_level}",
                        f"archived documents must reach PAdES B-LTA, the file says "
                        f"{policy.final_level}"))
    if policy.final_level != "B-B" and not policy.timestamp_each_signature:
        add(doc.problem(("timestamp_each_signature",),
                        f"mức {policy.final_level} cần dấu thời gian cho mỗi chữ ký",
                        f"level {policy.final_level} needs a timestamp on every signature"))
    return sorted(problems, key=lambda p: p.line)


def _method_problems(doc: SourceDoc, path: StepPath, step: Step) -> list[Problem]:
    out: list[Problem] = []
    is_patient = step.role in PATIENT_ROLES
    if step.representative_allowed and step.role != "patient":
        out.append(doc.problem((*path, "representative_allowed"),
                               "chỉ bước của người bệnh mới có thể do người đại diện ký",
                               "only the patient's step may be done by a representative"))
    for k, alt in enumerate(step.alternatives):
        if (alt in PATIENT_ROLES) != is_patient:
            out.append(doc.problem((*path, "alternatives", k),
                                   f"'{alt}' không thể thay '{step.role}' (nhân viên và người bệnh "
                                   f"ký theo cách khác nhau)",
                                   f"'{alt}' cannot stand in for '{step.role}' (staff and "
                                   f"patients sign differently)"))
    allowed = PATIENT_METHODS if is_patient else STAFF_METHODS
    for k, method in enumerate(step.methods):
        if method not in allowed:
            if is_patient:
                vi = (f"người bệnh không ký bằng '{method}'; dùng: "
                      f"{', '.join(sorted(PATIENT_METHODS))}")
                en = (f"patients do not sign with '{method}'; use one of "
                      f"{', '.join(sorted(PATIENT_METHODS))}")
            else:
                vi = (f"nhân viên y tế phải ký bằng chữ ký số (hsm_key, remote_signing) theo "
                      f"TT 13/2025/TT-BYT Đ3, không phải '{method}'")
                en = (f"staff must sign with a digital signature (hsm_key, remote_signing) per "
                      f"TT 13/2025/TT-BYT art. 3, not '{method}'")
            out.append(doc.problem((*path, "methods", k), vi, en))
    if step.seal is not None and step.seal != "organisation_seal":
        out.append(doc.problem((*path, "seal"), "chỉ có thể niêm phong bằng 'organisation_seal'",
                               "only 'organisation_seal' can seal a confirmation"))
    if is_patient and set(step.methods) & CONFIRMATION_METHODS and step.seal != "organisation_seal":
        out.append(doc.problem((*path, "methods"),
                               "xác nhận của người bệnh (bảng ký, vân tay, OTP) phải được niêm "
                               "phong bằng con dấu số của cơ sở: thêm 'seal: organisation_seal'",
                               "a patient confirmation (pad, fingerprint, OTP) must be sealed with "
                               "the hospital seal: add 'seal: organisation_seal'"))
    return out
