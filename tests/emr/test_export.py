"""HoSoBenhAn export (JSON + XML) with the signed PDFs read from the archive."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy.orm import Session

from archive.db import make_engine
from archive.fs_store import FilesystemWormStore
from archive.index import RecordsIndex
from archive.ingest import Archiver, DocumentMeta, IngestItem
from core.errors import ArchiveError, NotFound
from emr import models as m
from emr.export import archive_fetcher, export_patient_record
from emr.seed import DemoIds


def _archive_consent(s: Session, ids: DemoIds, archiver: Archiver) -> bytes:
    pdf = b"%PDF-1.7\n% signed consent (test bytes)\n%%EOF\n"
    r = archiver.archive_document(IngestItem("doc-consent-1", pdf,
                                             DocumentMeta(ids.tenant_id, "consent_surgery"),
                                             "doctor"))
    ref = m.DocumentReference(id="dr-1", patient_id=ids.patient_ids[0],
                              encounter_id=ids.encounter_ids[0],
                              archive_document_id="doc-consent-1", form_code="consent_surgery",
                              version=r.version, sha256=r.sha256)
    s.add(ref)
    s.flush()
    s.add(m.Provenance(document_reference_id="dr-1", activity="sign", agent_role="doctor",
                       agent_practitioner_id=ids.practitioner_ids["doctor"], method="pkcs11",
                       level="B-LTA", recorded_at=datetime(2026, 11, 2, 4, 30, tzinfo=UTC)))
    s.commit()
    return pdf


def test_export_json_xml_and_pdfs(seeded_sqlite: tuple[Session, DemoIds], tmp_path: Path) -> None:
    s, ids = seeded_sqlite
    engine = make_engine(str(s.get_bind().url))
    archiver = Archiver(RecordsIndex(engine), FilesystemWormStore(tmp_path / "worm", warn=False))
    pdf = _archive_consent(s, ids, archiver)
    out = export_patient_record(s, ids.patient_ids[0],
                                fetch_pdf=archive_fetcher(archiver.index, archiver.store))
    rec = out.record
    assert rec["THONG_TIN_HANH_CHINH"]["SO_CCCD"] == "072187001234"
    assert rec["THONG_TIN_HANH_CHINH"]["NGAY_SINH"] == "19870412"
    (dot,) = rec["DOT_DIEU_TRI"]
    assert dot["LOAI_KCB"] == "NOI_TRU" and dot["NGAY_VAO"] == "202611020915"
    assert [c["MA_BENH"] for c in dot["CHAN_DOAN"]] == ["K35.8", "D64.9"]
    (doc,) = dot["TAI_LIEU"]
    assert doc["SHA256"] == hashlib.sha256(pdf).hexdigest()
    assert doc["CHU_KY"][0]["MUC_PADES"] == "B-LTA"
    assert out.files == {doc["TEN_TEP"]: pdf}
    root = etree.fromstring(out.xml)
    assert root.tag == "HoSoBenhAn"
    assert root.findtext("THONG_TIN_HANH_CHINH/HO_TEN") == "Nguyễn Thị Hồng Nhung"
    assert [e.text for e in root.findall("DOT_DIEU_TRI/DOT/CHAN_DOAN/BENH/MA_BENH")] == [
        "K35.8", "D64.9"]
    assert root.findtext("DOT_DIEU_TRI/DOT/TAI_LIEU/TEP/SHA256") == doc["SHA256"]
    written = out.write(tmp_path / "export")
    assert (tmp_path / "export" / doc["TEN_TEP"]).read_bytes() == pdf
    assert json.loads(written[0].read_text())["HoSoBenhAn"]["DOT_DIEU_TRI"][0]["MA_LK"] == \
        ids.encounter_ids[0]
    # the outpatient has no documents; an unknown patient is NotFound
    assert export_patient_record(s, ids.patient_ids[1]).files == {}
    with pytest.raises(NotFound):
        export_patient_record(s, "nobody")
    engine.dispose()


def test_export_refuses_a_pdf_that_does_not_match(seeded_sqlite: tuple[Session, DemoIds],
                                                  tmp_path: Path) -> None:
    s, ids = seeded_sqlite
    engine = make_engine(str(s.get_bind().url))
    archiver = Archiver(RecordsIndex(engine), FilesystemWormStore(tmp_path / "worm", warn=False))
    _archive_consent(s, ids, archiver)
    with pytest.raises(ArchiveError):
        export_patient_record(s, ids.patient_ids[0], fetch_pdf=lambda d, v: b"%PDF forged")
    engine.dispose()
