"""The external corpus (../shared/corpus): every PDF in MANIFEST.tsv (and the
veraPDF manifest) through ``verify_pdf`` in its bounded worker, with the
corpus certificates pinned as trust anchors. Prints a table: file, expected,
hsba's verdict, agreement. The accepted verdicts below translate each
manifest expectation into hsba's seven words (corpus README, last note)."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from signer.verify import verify_pdf
from tests.shared_data import CORPUS

HOSTILE = {"PARSE_ERROR", "NO_SIGNATURE", "INVALID"}
NOT_VALID = {"MODIFIED_AFTER_SIGNING", "INVALID"}

# file (or folder prefix) -> (accepted verdicts, validation time or None)
EXPECTED: dict[str, tuple[set[str], datetime | None]] = {
    "attacks-shadow/hide-v1_3_signed.pdf": ({"VALID"}, datetime(2020, 11, 17, tzinfo=UTC)),
    "attacks-shadow/hide-text-via-form_3_signed.pdf": ({"VALID"}, None),
    "attacks-shadow/": (NOT_VALID, None),  # *_4_manipulated*: never valid
    "dss/pdf-signed-original.pdf": ({"VALID"}, None),
    "dss/pades-bes.pdf": ({"VALID"}, None),
    "dss/pdf-signed-corrupted.pdf": ({"INVALID", "PARSE_ERROR"}, None),
    "dss/pdf-signed-out-of-byteRange.pdf": ({"INVALID"}, None),
    "dss/pdf-byterange-overlap.pdf": ({"INVALID"}, None),
    "dss/pdf-signed-added-page.pdf": (NOT_VALID, None),
    "dss/pdf-eof.pdf": ({"INVALID"}, None),
    "dss/pades_infinite_loop.pdf": ({"PARSE_ERROR", "INVALID", "INDETERMINATE", "NO_SIGNATURE"}, None),
    # two signatures, only the timestamped one technically valid; no trust anchor for them
    "dss/pades3_Baseline_B.pdf": ({"INDETERMINATE"}, None),
    # DSS finds no signature: the CMS is not DER; hsba reports it unreadable
    "dss/BadEncodedCMS.pdf": ({"NO_SIGNATURE", "INVALID"}, None),
    "dss/pades-unsupported-signature-algorithm.pdf": ({"INVALID"}, None),
    # annotation added after signing: changes reported, never plain VALID
    "dss/pades-signed-annot-added.pdf": ({"VALID_WITH_ALLOWED_CHANGES", "MODIFIED_AFTER_SIGNING"}, None),
    # "B-level valid" per DSS, but SHA-1: ETSI crypto constraints make it INDETERMINATE in 2026
    "dss/pkcs7-no-message-digest.pdf": ({"VALID", "INDETERMINATE"}, None),
    "pyhanko/coverage-": (NOT_VALID, None),
    # the legitimate appearance reuse must not be flagged; trust needs revocation
    # data that the file does not carry (offline), hence INDETERMINATE is accepted
    "pyhanko/form-update-override-appearance-stream.pdf": (
        {"VALID_WITH_ALLOWED_CHANGES", "INDETERMINATE"}, datetime(2021, 12, 1, tzinfo=UTC)),
    "pyhanko/form-update-override-appearance-stream-sneaky.pdf": ({"MODIFIED_AFTER_SIGNING"}, None),
    # both signatures intact, signer not among the pinned anchors
    "pyhanko/minimal-signed-twice-both-created.pdf": ({"INDETERMINATE", "VALID_WITH_ALLOWED_CHANGES"}, None),
    "pyhanko/sig-no-signed-attrs.pdf": ({"VALID"}, None),
    "pyhanko/pdf-sig-with-econtent.pdf": ({"INVALID"}, None),
    "pyhanko/ed448-disallowed-hash.pdf": ({"INDETERMINATE"}, None),
    "pyhanko/minimal.pdf": ({"NO_SIGNATURE"}, None),
    "pyhanko/": ({"PARSE_ERROR", "NO_SIGNATURE"}, None),  # malformed, unsigned: clean error
    "dos-malformed/safedocs-CompactedPDFSyntaxTest.pdf": ({"NO_SIGNATURE"}, None),
    "dos-malformed/": ({"PARSE_ERROR", "NO_SIGNATURE"}, None),
    # PDF/A test files: unsigned, except the 6.1.12 (permissions) ones that carry
    # placeholder signatures, and header/syntax failures that do not parse.
    "pdfa/": ({"NO_SIGNATURE"}, None),
    "verapdf/": ({"NO_SIGNATURE", "INVALID", "PARSE_ERROR"}, None),
}


def _expected(name: str) -> tuple[set[str], datetime | None]:
    for key in sorted(EXPECTED, key=len, reverse=True):
        if name == key or (key.endswith(("/", "-")) and name.startswith(key)):
            return EXPECTED[key]
    raise AssertionError(f"no expectation mapped for {name}")


def _corpus_files() -> list[str]:
    names: list[str] = []
    for manifest, prefix in ((CORPUS / "MANIFEST.tsv", ""), (CORPUS / "verapdf" / "MANIFEST.tsv", "verapdf/")):
        if not manifest.exists():
            continue
        with manifest.open(newline="") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                if row and row[0].endswith(".pdf"):
                    name = row[0] if "/" in row[0] else prefix + row[0]
                    if (CORPUS / name).exists():
                        names.append(name)
    return sorted(set(names))


def test_corpus_verdicts_agree() -> None:
    files = _corpus_files()
    assert len(files) >= 50, f"corpus not found or incomplete at {CORPUS}"
    roots = sorted((CORPUS / "certs").glob("*.pem"))

    def run(name: str) -> tuple[str, set[str], str, object]:
        accepted, at = _expected(name)
        rep = verify_pdf((CORPUS / name).read_bytes(), trust_roots=roots, at=at,
                         offline=True, lang="en")
        return name, accepted, rep.verdict, rep

    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(run, files))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'file':<{width}}  {'expected':<45} {'hsba':<27} agree")
    bad = []
    for name, accepted, verdict, _ in rows:
        ok = verdict in accepted
        print(f"{name:<{width}}  {'|'.join(sorted(accepted)):<45} {verdict:<27} {'yes' if ok else 'NO'}")
        if not ok:
            bad.append((name, verdict, accepted))
    assert not bad, bad
    by_name = {r[0]: r[3] for r in rows}
    overlap = by_name["dss/pdf-byterange-overlap.pdf"]
    failed = [s for s in overlap.signatures if s.indication == "TOTAL_FAILED"
              or any(f.severity == "fatal" for f in s.findings)]
    assert len(overlap.signatures) == 2 and len(failed) == 1
    legit = by_name["pyhanko/form-update-override-appearance-stream.pdf"]
    assert legit.signatures[0].changes == "FORM_FILLING"
    assert all(f.severity not in ("fatal", "modified") for s in legit.signatures for f in s.findings)


@pytest.mark.parametrize("name", ["dos-malformed/pdf101-A1-array-reference-loop.pdf",
                                  "dss/pades_infinite_loop.pdf"])
def test_hostile_files_end_cleanly_with_a_message(name: str) -> None:
    rep = verify_pdf((CORPUS / name).read_bytes(), offline=True)
    assert rep.verdict in HOSTILE | {"INDETERMINATE"}
    assert rep.message_vi and rep.message_en
    assert "Traceback" not in rep.message_en
