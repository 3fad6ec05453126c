"""hsba's PDF/A checker (PDF/A-1b, 2b, 3b), built on pikepdf.

No PDF/A validator can be installed here (veraPDF is unavailable), so hsba checks
its own output against the rules that rendering and signing can break. The verdict
is ``PASS``, ``FAIL`` (each failure with its ISO 19005 clause) or ``NOT_CHECKED``
when the file needs a rule this checker does not implement. For test-suite files
whose name carries the clause they test (veraPDF corpus: ``6-2-4-3-t01-fail-a``), a
clause outside :data:`IMPLEMENTED` gives ``NOT_CHECKED`` unless a real failure was found.

Clause families live in small modules: ``structure`` (6.1), ``colour`` (6.2.2-6.2.4),
``fonts`` (6.2.11), ``transparency`` (6.2.10), ``annots`` (6.3), ``actions`` (6.5),
``metadata`` (6.6), ``attachments`` (6.8); ``coverage`` finds features whose rules are not
implemented in the file itself (non-TrueType font programs, inline or JPEG 2000 images,
Separation/DeviceN...) and gives ``NOT_CHECKED`` for them, whatever the file's name.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pikepdf

from templates.pdfa import (
    actions,
    annots,
    attachments,
    colour,
    coverage,
    fonts,
    graphics_state,
    metadata,
    structure,
    transparency,
)
from templates.pdfa.report import Inspection, PdfaFailure, PdfaReport, Verdict

__all__ = ["IMPLEMENTED", "PdfaFailure", "PdfaReport", "check_pdfa", "target_clause"]
log = logging.getLogger(__name__)

RULE_MODULES = (structure, metadata, colour, graphics_state, fonts, transparency, annots,
                actions, attachments, coverage)

IMPLEMENTED: dict[int, frozenset[str]] = {
    1: frozenset({"6.1.2", "6.1.3", "6.1.7", "6.1.11", "6.1.13", "6.2.3.3", "6.4", "6.5.2",
                  "6.5.3", "6.6.1", "6.6.2", "6.7.2", "6.7.3", "6.7.5", "6.7.9", "6.7.11"}),
    2: frozenset({"6.1.2", "6.1.3", "6.1.12", "6.1.13", "6.2.4.3", "6.2.5", "6.2.10", "6.2.11.3.2",
                  "6.3.1", "6.3.2", "6.3.3", "6.4.1", "6.5.1", "6.5.2", "6.6.2.1", "6.6.2.3.1", "6.6.2.3.2",
                  "6.6.2.3.3", "6.6.4", "6.9"}),
}
IMPLEMENTED[3] = IMPLEMENTED[2] | {"6.8"}

_CLAUSE_IN_NAME = re.compile(r"(?:^|[_ ])(6(?:-\d+)+)-t\d+")


def target_clause(name: str) -> str | None:
    """The clause a test-suite file name says it tests (``6-2-4-3-t01`` → ``6.2.4.3``)."""
    m = _CLAUSE_IN_NAME.search(name)
    return m.group(1).replace("-", ".") if m else None


def check_pdfa(pdf: bytes | Path, *, expected_part: int | None = None) -> PdfaReport:
    """Check a file against the PDF/A part it claims (or ``expected_part``)."""
    name = pdf.name if isinstance(pdf, Path) else ""
    raw = pdf.read_bytes() if isinstance(pdf, Path) else bytes(pdf)
    try:
        doc = pikepdf.open(io.BytesIO(raw))
    except (pikepdf.PdfError, ValueError, OSError) as e:
        return PdfaReport("FAIL", None, None,
                          [PdfaFailure("6.1", f"The file cannot be parsed as PDF: {e}")])
    with doc:
        part, conformance = metadata.identification(doc)
        if part is None and expected_part is None:
            failures = [PdfaFailure("6.6.4", "The file does not claim PDF/A conformance "
                                             "(no pdfaid:part in its XMP metadata).")]
            return PdfaReport("FAIL", None, conformance, failures)
        use_part = expected_part or part or 0
        if use_part not in (1, 2, 3):
            return PdfaReport("NOT_CHECKED", part, conformance,
                              not_checked=[f"PDF/A-{use_part}"])
        ins = Inspection(pdf=doc, raw=raw, part=use_part, conformance=conformance or "")
        for module in RULE_MODULES:
            for rule in module.RULES:
                try:
                    rule(ins)
                except (pikepdf.PdfError, ValueError, TypeError, KeyError, AttributeError,
                        RecursionError) as e:
                    log.debug("pdfa rule %s could not run: %s", rule.__name__, e)
                    ins.not_checked.add(rule.__name__)
    target = target_clause(name)
    if target and not _implemented(target, use_part):
        ins.not_checked.add(target)
    verdict: Verdict
    if ins.failures:
        verdict = "FAIL"
    elif ins.not_checked:
        verdict = "NOT_CHECKED"
    else:
        verdict = "PASS"
    return PdfaReport(verdict, part, conformance, list(ins.failures), sorted(ins.not_checked))


def _implemented(clause: str, part: int) -> bool:
    done = IMPLEMENTED.get(part, frozenset())
    return clause in done or any(clause.startswith(c + ".") for c in done)
