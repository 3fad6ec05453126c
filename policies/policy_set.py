"""Loading every policy file into one :class:`PolicySet`, checked, versioned.

Files are found recursively (``*.yaml``/``*.yml``) first in the shipped
``policies/defaults/``, then in the hospital's directory
(``settings.policies_dir``). Each file declares its ``kind``; a hospital file
with the same identity as a shipped one replaces it: for ``signing`` the
identity is the form (and its ``form_versions``), for ``retention``, ``access``
and ``trust`` the kind itself (a hospital's ``trust.yaml`` adds its anchors to
the national ones, replacing any with the same id, unless it says
``replace_defaults: true``). Every problem in
every file is gathered into one :class:`~core.errors.PolicyError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import PolicyError
from core.settings import get_settings
from policies.access import AccessPolicy, check_access_rules
from policies.retention import RetentionPolicy, check_retention_rules
from policies.signing import SigningPolicy
from policies.signing_rules import check_signing_rules
from policies.source import (
    PolicyFileInvalid,
    Problem,
    SourceDoc,
    parse_yaml,
    policy_error,
    problems_from_validation,
    read_text,
)
from policies.trust import TrustPolicy, check_trust_rules

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
KINDS: dict[str, type[BaseModel]] = {
    "signing": SigningPolicy, "retention": RetentionPolicy,
    "access": AccessPolicy, "trust": TrustPolicy,
}


@dataclass(frozen=True)
class PolicyFile:
    """One loaded file, as recorded in :attr:`PolicySet.files`."""

    source: str
    kind: str
    identity: str
    version: str
    sha256: str
    origin: str
    """``default`` or ``hospital``."""


@dataclass(frozen=True)
class PolicySet:
    """Every rule in force. Ask it; never hard-code a rule."""

    signing_policies: tuple[SigningPolicy, ...]
    retention: RetentionPolicy
    access: AccessPolicy
    trust: TrustPolicy
    files: tuple[PolicyFile, ...]
    version: str
    """Stable id of the whole set (``pol-`` + 16 hex of a digest over every file in force);
    the workflow records it with every document and signature."""
    directory: str | None = field(default=None)
    sources: dict[str, SourceDoc] = field(default_factory=dict, repr=False, compare=False)
    """The parsed files in force by source name, to point at lines after loading."""

    def forms(self) -> list[str]:
        return sorted({p.form for p in self.signing_policies})

    def signing(self, form_code: str, version: str | None = None) -> SigningPolicy:
        """The signing policy of ``form_code`` (at form ``version``); deny if none."""
        mine = [p for p in self.signing_policies if p.form == form_code]
        specific = [p for p in mine if p.form_versions is not None and version in p.form_versions]
        generic = [p for p in mine if p.form_versions is None]
        found = (specific or generic)[:1]
        if not found:
            raise PolicyError(
                "policy.no_signing_policy",
                f"Không có chính sách ký cho biểu mẫu '{form_code}'"
                + (f" phiên bản '{version}'" if version else "") + ": không được ký.",
                f"No signing policy for form '{form_code}'"
                + (f" version '{version}'" if version else "") + ": it cannot be signed.",
                details={"form": form_code, "version": version, "known": self.forms()})
        return found[0]


def _identity(kind: str, data: dict[str, Any]) -> str:
    if kind == "signing":
        versions = data.get("form_versions")
        suffix = "@" + ",".join(map(str, versions)) if isinstance(versions, list) else ""
        return f"signing:{data.get('form')}{suffix}"
    return kind


def _yaml_files(root: Path) -> list[Path]:
    """YAML files under ``root``, skipping hidden ones (editor and VCS files)."""
    return sorted(p for p in root.rglob("*")
                  if p.suffix in (".yaml", ".yml") and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _read(path: Path, display: str) -> SourceDoc:
    return parse_yaml(read_text(path, display), display)


def _validate(doc: SourceDoc, base_dir: Path) -> tuple[str, BaseModel]:
    kind = doc.data.get("kind")
    if kind not in KINDS:
        raise PolicyFileInvalid([doc.problem(
            ("kind",),
            f"'kind' phải là một trong: {', '.join(KINDS)} (tệp ghi: {kind!r})",
            f"'kind' must be one of {', '.join(KINDS)} (the file says {kind!r})")])
    data = dict(doc.data)
    if kind == "trust":
        data.pop("replace_defaults", None)  # a merge instruction, read by _merge_trust
    if "version" in data and isinstance(data["version"], (int, float)):
        data["version"] = str(data["version"])
    try:
        model = KINDS[kind].model_validate(data)
    except ValidationError as e:
        raise PolicyFileInvalid(problems_from_validation(doc, e)) from e
    update: dict[str, Any] = {"sha256": doc.sha256, "source": doc.file}
    if isinstance(model, SigningPolicy):
        problems = check_signing_rules(doc, model)
    elif isinstance(model, RetentionPolicy):
        problems = check_retention_rules(doc, model)
    elif isinstance(model, AccessPolicy):
        problems = check_access_rules(doc, model)
    else:
        assert isinstance(model, TrustPolicy)
        problems = check_trust_rules(doc, model, base_dir)
        update["base_dir"] = str(base_dir)
    if problems:
        raise PolicyFileInvalid(problems)
    return kind, model.model_copy(update=update)


Loaded = tuple[str, str, BaseModel, SourceDoc]  # identity, origin, model, doc


def _load_dir(root: Path, origin: str, display_root: str,
              problems: list[Problem]) -> dict[str, Loaded]:
    out: dict[str, Loaded] = {}
    for path in _yaml_files(root):
        display = f"{display_root}/{path.relative_to(root).as_posix()}"
        try:
            doc = _read(path, display)
            kind, model = _validate(doc, path.parent)
        except PolicyFileInvalid as e:
            problems.extend(e.problems)
            continue
        identity = _identity(kind, doc.data)
        if identity in out:
            other = out[identity][3].file
            key = ("form",) if kind == "signing" else ("kind",)
            problems.append(doc.problem(
                key, f"trùng với tệp {other} (cùng '{identity}')",
                f"duplicates {other} (same '{identity}')"))
            continue
        out[identity] = (identity, origin, model, doc)
    return out


def load_policies(directory: Path | str | None = None) -> PolicySet:
    """Shipped defaults overridden by ``directory`` (default ``settings.policies_dir``).

    Raises :class:`PolicyError` naming file, line and reason for every invalid file.
    """
    if directory is None:
        directory = get_settings().policies_dir
    problems: list[Problem] = []
    effective = _load_dir(DEFAULTS_DIR, "default", "defaults", problems)
    if directory is not None:
        hospital_dir = Path(directory)
        if not hospital_dir.is_dir():
            raise PolicyError(
                "policy.dir_missing",
                f"Không thấy thư mục chính sách {hospital_dir}.",
                f"Policy directory {hospital_dir} does not exist.")
        hospital = _load_dir(hospital_dir, "hospital", str(hospital_dir), problems)
        if "trust" in hospital and "trust" in effective:
            merged = _merge_trust(effective["trust"], hospital["trust"], problems)
            hospital["trust"] = merged
        effective.update(hospital)
    if problems:
        raise policy_error(problems)
    return _assemble(effective, None if directory is None else str(directory))


def _merge_trust(default: Loaded, hospital: Loaded, problems: list[Problem]) -> Loaded:
    """The hospital's anchors added to the defaults; an anchor with a default's id replaces
    it (e.g. ``enabled: false`` to distrust one); ``replace_defaults: true`` keeps only its own."""
    doc = hospital[3]
    model = hospital[2]
    assert isinstance(model, TrustPolicy) and isinstance(default[2], TrustPolicy)
    if doc.data.get("replace_defaults") is True:
        return hospital
    own = {a.id: a for a in model.anchors}
    for i, a in enumerate(model.anchors):
        same = next((d for d in default[2].anchors if d.sha256 == a.sha256 and d.id != a.id), None)
        if same is not None:
            problems.append(doc.problem(
                ("anchors", i, "sha256"),
                f"dấu vân tay này đã có trong danh sách mặc định với mã '{same.id}'",
                f"this fingerprint is already listed in the defaults as '{same.id}'"))
    anchors = [own.pop(a.id, a) for a in default[2].anchors] + list(own.values())
    merged = model.model_copy(update={"anchors": tuple(anchors)})
    return (hospital[0], hospital[1], merged, doc)


def _assemble(effective: dict[str, Loaded], directory: str | None) -> PolicySet:
    files = tuple(sorted(
        (PolicyFile(source=doc.file, kind=str(doc.data["kind"]), identity=identity,
                    version=str(getattr(model, "version", "")), sha256=doc.sha256,
                    origin=origin)
         for identity, origin, model, doc in effective.values()),
        key=lambda f: f.identity))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.identity}\0{f.sha256}\n".encode())
    missing = [k for k in ("retention", "access", "trust") if k not in effective]
    if missing:  # only possible if the shipped defaults were removed
        raise PolicyError("policy.kind_missing",
                          f"Thiếu chính sách: {', '.join(missing)}.",
                          f"Missing policies: {', '.join(missing)}.")
    signing = tuple(m for i, _o, m, _d in effective.values() if i.startswith("signing:"))
    return PolicySet(
        signing_policies=signing,  # type: ignore[arg-type]
        retention=effective["retention"][2],  # type: ignore[arg-type]
        access=effective["access"][2],  # type: ignore[arg-type]
        trust=effective["trust"][2],  # type: ignore[arg-type]
        files=files,
        version="pol-" + digest.hexdigest()[:16],
        directory=directory,
        sources={doc.file: doc for _i, _o, _m, doc in effective.values()},
    )
