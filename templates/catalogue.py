"""The form catalogue: every clinical form hsba can render, by code and version.

A form version lives in ``templates/forms/<code>/<version>/`` with four files:
``form.html.j2`` (Jinja2 layout), ``schema.json`` (JSON Schema 2020-12 of its
data), ``sample.json`` (a complete example payload) and ``meta.yaml`` (titles,
official form number, signature roles). A version once released is frozen: its
files' sha256 are listed in ``forms/RELEASED.json`` and checked by the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import NotFound

FORMS_DIR = Path(__file__).resolve().parent / "forms"
FORM_FILES = ("form.html.j2", "schema.json", "sample.json", "meta.yaml")


@dataclass(frozen=True)
class FormInfo:
    """One form version, as listed by ``hsba forms list``."""

    code: str
    """Stable form id (``consent_surgery``...)."""
    version: str
    """Template version (``v1``...); the latest is listed."""
    title_vi: str
    title_en: str
    signature_fields: tuple[str, ...]
    """Names of the empty signature fields laid out on the form (static ones;
    repeated per-entry fields such as ``doctor_1`` are named at render time)."""
    form_number: str = ""
    """Official form number printed as ``MS:`` (e.g. ``01/KBCB``)."""
    legal_basis: str = ""
    """The legal text that defines the form."""


@dataclass(frozen=True)
class FormVersion:
    """Everything needed to render one form version (internal to templates/)."""

    info: FormInfo
    directory: Path
    schema: dict[str, Any]
    meta: dict[str, Any]

    @property
    def template_name(self) -> str:
        return f"{self.info.code}/{self.info.version}/form.html.j2"


def _version_key(v: str) -> int:
    return int(v.lstrip("v")) if v.lstrip("v").isdigit() else -1


def form_codes() -> list[str]:
    return sorted(p.name for p in FORMS_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))


def versions(code: str) -> list[str]:
    d = FORMS_DIR / code
    if not d.is_dir():
        raise NotFound(
            "form.unknown",
            f"Không có biểu mẫu mã '{code}'.",
            f"No form with code '{code}'.",
            details={"form_code": code, "known": form_codes()},
        )
    return sorted((p.name for p in d.iterdir() if (p / "meta.yaml").is_file()), key=_version_key)


@lru_cache(maxsize=128)
def load_form(code: str, version: str | None = None) -> FormVersion:
    """The form version ``version`` of ``code`` (latest when ``None``)."""
    known = versions(code)
    if not known:
        raise NotFound("form.unknown", f"Biểu mẫu '{code}' chưa có phiên bản.",
                       f"Form '{code}' has no version.")
    version = version or known[-1]
    if version not in known:
        raise NotFound(
            "form.unknown_version",
            f"Biểu mẫu '{code}' không có phiên bản '{version}'.",
            f"Form '{code}' has no version '{version}'.",
            details={"form_code": code, "versions": known},
        )
    directory = FORMS_DIR / code / version
    meta = yaml.safe_load((directory / "meta.yaml").read_text(encoding="utf-8"))
    schema = json.loads((directory / "schema.json").read_text(encoding="utf-8"))
    info = FormInfo(
        code=code,
        version=version,
        title_vi=meta["title_vi"],
        title_en=meta["title_en"],
        signature_fields=tuple(s["role"] for s in meta.get("signatures", [])),
        form_number=str(meta.get("form_number", "")),
        legal_basis=str(meta.get("legal_basis", "")),
    )
    return FormVersion(info=info, directory=directory, schema=schema, meta=meta)


def list_forms() -> list[FormInfo]:
    """The latest version of every form in the catalogue."""
    return [load_form(code).info for code in form_codes()]


def sample_payload(code: str, version: str | None = None) -> dict[str, Any]:
    fv = load_form(code, version)
    data: dict[str, Any] = json.loads((fv.directory / "sample.json").read_text(encoding="utf-8"))
    return data
