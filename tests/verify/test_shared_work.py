"""Work shared between the signatures of one file changes no result.

A three-signature B-LTA document is verified with the evidence record shared
(the default) and with pyHanko's LTA validation re-deriving it per signature:
every signature report is the same, and the document timestamp chain is
validated once instead of once per signature. Revision renderings started in
the background give the same comparison as renderings made on the spot.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

import pytest
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.status import DocumentTimestampStatus

from signer.verify import engine, rendering, structure
from tests.verify import documents
from tests.verify.pki import TestPki


@pytest.fixture(scope="module")
def three_signatures(pki: TestPki) -> bytes:
    names = ["nurse", "doctor", "head_of_department"]
    boxes = {name: (40 + i * 120, 40, 150 + i * 120, 90) for i, name in enumerate(names)}
    doc = documents.with_signature_fields(documents.base_form(), boxes)
    for i, name in enumerate(names):
        doc = documents.sign(doc, pki, who="doctor", field=name,
                             level="B-LTA" if i == len(names) - 1 else "B-T")
    return doc


def _chain_validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count pyHanko's validations of document timestamps in the POE chain."""
    calls: list[int] = []
    orig = ades.ades_timestamp_validation

    async def counting(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("status_cls") is DocumentTimestampStatus:
            calls.append(1)
        return await orig(*args, **kwargs)

    monkeypatch.setattr(ades, "ades_timestamp_validation", counting)
    return calls


def _comparable(rep: Any) -> Any:
    return replace(rep, validation_time=None).to_dict()


def test_shared_evidence_same_reports_less_work(pki: TestPki, three_signatures: bytes,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _chain_validations(monkeypatch)
    shared = engine.analyse(three_signatures, trust_roots=[pki.root], offline=True)
    shared_calls = len(calls)
    calls.clear()
    monkeypatch.setattr(engine, "shared_evidence", contextlib.nullcontext)
    alone = engine.analyse(three_signatures, trust_roots=[pki.root], offline=True)
    assert shared.verdict == "VALID_WITH_ALLOWED_CHANGES"
    assert [s.level for s in shared.signatures] == ["B-LTA"] * 3
    assert _comparable(shared) == _comparable(alone)
    assert shared_calls == 1
    assert len(calls) == 3


def test_background_renderings_compare_like_on_the_spot(three_signatures: bytes) -> None:
    if not rendering.available():
        pytest.fail("pdftoppm (poppler-utils) is required by the rendering check")
    ends = structure.revision_ends(three_signatures)[:-1]
    with rendering.RevisionRenderer(three_signatures) as spot:
        expected = [spot.compare(e) for e in ends]
    with rendering.RevisionRenderer(three_signatures) as ahead:
        ahead.prefetch(ends)
        got = [ahead.compare(e) for e in ends]
    assert got == expected
    assert all(d.pages_signed == d.pages_final == 1 for d in got)


def test_renderer_closed_early_leaves_no_process(three_signatures: bytes) -> None:
    rr = rendering.RevisionRenderer(three_signatures)
    rr.prefetch([len(three_signatures) // 2, len(three_signatures) // 3])
    rr.close()
    assert not rr._running


def test_only_revisions_followed_by_allowed_changes_are_rendered_ahead(
        pki: TestPki, three_signatures: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three signatures: the first two are followed by form filling (the later
    signatures) and are rendered ahead; the last is followed only by validation
    data and a document timestamp, so nothing is rendered for it; a single
    B-LTA signature renders nothing at all."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    from signer.verify import verdict

    started: list[list[int]] = []
    prefetch = rendering.RevisionRenderer.prefetch
    monkeypatch.setattr(rendering.RevisionRenderer, "prefetch",
                        lambda self, ends: (started.append(list(ends)), prefetch(self, ends))[1])
    regular = PdfFileReader(BytesIO(three_signatures)).embedded_regular_signatures
    renderer = verdict.start_rendering(three_signatures, regular)
    assert renderer is not None
    renderer.close()
    ends = [int(e.byte_range[2]) + int(e.byte_range[3]) for e in regular]
    assert started == [ends[:2]]
    single = documents.sign(documents.base_form(), pki, who="doctor", field="doctor",
                            level="B-LTA")
    assert verdict.start_rendering(
        single, PdfFileReader(BytesIO(single)).embedded_regular_signatures) is None
