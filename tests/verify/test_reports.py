"""Reports: JSON round trip, printable PDF/A report in both languages, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from signer.verify import VerificationReport, verify_pdf
from signer.verify.report_pdf import render_report_html, render_report_pdf
from tests.verify import documents
from tests.verify.pki import TestPki


def test_json_and_pdf_reports(pki: TestPki, signed_form: bytes) -> None:
    rep = verify_pdf(documents.shadow_replace_form_field(signed_form), trust_roots=[pki.root],
                     offline=True)
    again = VerificationReport.from_dict(json.loads(json.dumps(rep.to_dict())))
    assert again.verdict == rep.verdict == "MODIFIED_AFTER_SIGNING"
    html_vi = render_report_html(rep, "vi")
    assert "Báo cáo kiểm tra chữ ký số" in html_vi and "bị che, xóa hoặc thay thế" in html_vi
    assert "hidden, removed or replaced" in render_report_html(rep, "en")
    pdf = render_report_pdf(rep, "vi")
    assert pdf.startswith(b"%PDF-")
    import io

    import pikepdf
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert doc.open_metadata().get("pdfaid:part") == "3"


def test_cli_exit_codes(pki: TestPki, signed_form: bytes, tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(signed_form)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(documents.empty_xref_section(signed_form))
    root = tmp_path / "root.pem"
    from asn1crypto import pem
    root.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()))
    hsba = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
    ok = subprocess.run([*hsba, "verify", str(good), "--trust", str(root), "--offline", "--json"],
                        check=False, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "VALID"
    out = tmp_path / "r.pdf"
    ko = subprocess.run([*hsba, "--lang", "en", "verify", str(bad), "--trust", str(root), "--offline",
                         "--report-pdf", str(out)], check=False, capture_output=True, text=True, timeout=120)
    assert ko.returncode == 1 and "MODIFIED_AFTER_SIGNING" in ko.stdout
    assert "Traceback" not in ko.stderr and out.read_bytes().startswith(b"%PDF-")
    usage = subprocess.run([*hsba, "verify", str(good), "--at", "yesterday"],
                           check=False, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
