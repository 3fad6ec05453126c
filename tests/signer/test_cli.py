"""``hsba sign`` on the embedded default: development key store, PKI and TSA."""

from __future__ import annotations

import json
from pathlib import Path

from api.cli import main
from signer.sign import signature_fields


def test_cli_signs_every_input_and_reports_failures(tmp_settings, form_pdf, tmp_path: Path,
                                                    capsys):
    assert main(["keys", "enroll", "--practitioner", "bs-an", "--name", "Nguyễn Văn An",
                 "--title", "Bác sĩ", "--csr-out", str(tmp_path / "an.csr"),
                 "--dev-issue"]) == 0
    a, b, bad = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "bad.pdf"
    a.write_bytes(form_pdf)
    b.write_bytes(form_pdf)
    bad.write_bytes(b"%PDF-1.7 not a pdf")
    capsys.readouterr()
    out = tmp_path / "out"
    code = main(["--lang", "en", "sign", str(a), str(b), str(bad), "--signer", "bs-an",
                 "--level", "B-LT", "--certify", "--out", str(out), "--json"])
    assert code == 1, "one input was refused"
    report = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in report["results"]] == [True, True, False]
    assert report["results"][2]["error"]["code"] == "sign.malformed_pdf"
    for name in ("a", "b"):
        signed = (out / f"{name}.signed.pdf").read_bytes()
        assert signed.startswith(form_pdf)
        assert signature_fields(signed)["doctor"] is True
    assert not (out / "bad.signed.pdf").exists()


def test_cli_refuses_missing_input(tmp_settings, tmp_path: Path):
    assert main(["sign", str(tmp_path / "nope.pdf"), "--signer", "x",
                 "--out", str(tmp_path)]) == 2
