"""Do the signing policies fit the forms? Each signer needs a signature field on the form.

The form catalogue belongs to ``templates/``, which this package does not import:
the caller (``hsba policies check``, the workflow at start-up) passes each form's
signature field names. A step that is repeated per entry is skipped (its fields,
``doctor_1``, ``doctor_2``..., are named when the form is rendered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from policies.policy_set import PolicySet
from policies.signing import ParallelGroup
from policies.source import Problem


def check_form_fields(policies: PolicySet,
                      forms: Mapping[tuple[str, str], Sequence[str]]) -> list[Problem]:
    """``forms`` maps (form code, version) to its signature field names."""
    out: list[Problem] = []
    for (code, version), fields in sorted(forms.items()):
        if code not in policies.forms():
            out.append(Problem("-", 0, "", f"biểu mẫu {code} {version} chưa có chính sách ký",
                               f"form {code} {version} has no signing policy"))
            continue
        sp = policies.signing(code, version)
        doc = policies.sources.get(sp.source)
        for i, stage in enumerate(sp.steps):
            steps = stage.parallel if isinstance(stage, ParallelGroup) else (stage,)
            for j, step in enumerate(steps):
                if step.repeatable:
                    continue
                base: tuple[str | int, ...] = (
                    ("steps", i, "parallel", j) if isinstance(stage, ParallelGroup)
                    else ("steps", i))
                for k, role in enumerate(step.accepted_roles):
                    field = step.field_for(role)
                    if field in fields:
                        continue
                    where = ((*base, "role") if k == 0
                             else (*base, "alternatives", k - 1) if k <= len(step.alternatives)
                             else (*base, "representative_field") if step.representative_field
                             else (*base, "representative_allowed"))
                    vi = (f"'{role}' ký vào trường '{field}' nhưng biểu mẫu {code} {version} "
                          f"không có trường đó (có: {', '.join(fields)})")
                    en = (f"'{role}' signs in field '{field}' but form {code} {version} has no "
                          f"such field (it has: {', '.join(fields)})")
                    out.append(doc.problem(where, vi, en) if doc is not None
                               else Problem(sp.source, 0, "", vi, en))
    return out
