"""Values of the PDF/A checker: the report, one failure, and the inspection context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pikepdf

Verdict = Literal["PASS", "FAIL", "NOT_CHECKED"]


@dataclass(frozen=True)
class PdfaFailure:
    clause: str
    """ISO 19005 clause (``6.1.3``...) as numbered in the claimed part."""
    message: str


@dataclass(frozen=True)
class PdfaReport:
    verdict: Verdict
    part: int | None
    """PDF/A part claimed in the XMP (1, 2, 3) or ``None``."""
    conformance: str | None
    failures: list[PdfaFailure] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    """Clauses the file needs that this checker does not implement."""

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "part": self.part, "conformance": self.conformance,
                "failures": [{"clause": f.clause, "message": f.message} for f in self.failures],
                "not_checked": list(self.not_checked)}


@dataclass
class Inspection:
    """What every rule module reads: the parsed file, its bytes and the claimed part."""

    pdf: pikepdf.Pdf
    raw: bytes
    part: int
    conformance: str
    failures: list[PdfaFailure] = field(default_factory=list)
    not_checked: set[str] = field(default_factory=set)

    def fail(self, clause_by_part: dict[int, str] | str, message: str) -> None:
        clause = (clause_by_part if isinstance(clause_by_part, str)
                  else clause_by_part.get(self.part, clause_by_part.get(2, "?")))
        item = PdfaFailure(clause, message)
        if item not in self.failures:
            self.failures.append(item)
