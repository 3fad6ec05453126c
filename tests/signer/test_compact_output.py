"""What a signed form keeps for 10-30 years, and nothing more (issue 12, size): each
CMS carries its signing certificate and the DSS the chain once; ``/Contents`` is
reserved to fit; the renderer's XMP is not rewritten per revision; new streams are
compressed; the appearance font is one small Vietnamese cut whose ``/W`` widths match
the font program (letter-spaced, overflowing text before). Every file still passes
pyHanko AdES offline and the PDF/A check."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from asn1crypto import cms
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from signer.keys import InMemoryKeySigner
from signer.patient import PatientConfirmation, seal_patient_confirmation
from signer.request import SignRequest
from signer.revisions import RESERVE_MARGIN
from signer.sign import sign_pdf
from tests.pki.testpki import LABELS, TestPki
from tests.signer import checks


@pytest.fixture(scope="module")
def two_signatures(signer_pki: Any, form_pdf: bytes) -> bytes:
    """Doctor certifies at B-LT, the patient's confirmation is sealed at B-LTA."""
    tsa, rev = [signer_pki.timestamper()], signer_pki.revocation()
    pdf = sign_pdf(form_pdf, SignRequest("doctor", "Nguyễn Văn An", role="Bác sĩ điều trị",
                                         level="B-LT", certify=True),
                   signer=signer_pki.signer("doctor-rsa"), timestampers=tsa, revocation=rev)
    confirmation = PatientConfirmation(
        patient_name="Trần Thị Bình", method="otp", evidence_sha256="ab" * 32,
        device_id="kiosk-01", captured_at=datetime.now(UTC))
    sealed, _ = seal_patient_confirmation(pdf, confirmation,
                                          seal_signer=signer_pki.signer("seal"),
                                          timestampers=tsa, revocation=rev)
    return sealed


@pytest.mark.services
def test_cms_carries_the_signing_certificate_and_the_dss_the_chain(
        signer_pki: Any, two_signatures: bytes) -> None:
    reader = PdfFileReader(BytesIO(two_signatures))
    dss = {c.sha256 for c in DocumentSecurityStore.read_dss(reader).load_certs()}
    for sig in reader.embedded_regular_signatures:
        certs = [c.chosen for c in sig.signed_data["certificates"]]
        assert [c.sha256 for c in certs] == [sig.signer_cert.sha256]
        assert {sig.signer_cert.sha256, signer_pki.interm.sha256} <= dss
    checks.assert_ades_passed(two_signatures, signer_pki.root, "B-LTA", 2)


@pytest.mark.services
def test_contents_are_reserved_to_fit(two_signatures: bytes) -> None:
    reader = PdfFileReader(BytesIO(two_signatures))
    sigs = reader.embedded_signatures
    assert len(sigs) == 3  # doctor, patient (sealed), document timestamp
    for sig in sigs:
        contents = bytes(sig.sig_object["/Contents"])
        der = cms.ContentInfo.load(contents).dump()
        # the margin over the size measured once per signer; a real container differs
        # from the measured one by a few bytes (nonce, serial, fraction of a second)
        assert len(contents) - len(der) <= RESERVE_MARGIN // 2 + 16, sig.field_name


@pytest.mark.services
def test_revisions_keep_the_xmp_and_compress_new_streams(
        form_pdf: bytes, two_signatures: bytes) -> None:
    with pikepdf.open(BytesIO(form_pdf)) as rendered:
        xmp = rendered.Root.Metadata.read_bytes() if "/Metadata" in rendered.Root else None
    with pikepdf.open(BytesIO(two_signatures)) as signed:
        if xmp is not None:
            assert signed.Root.Metadata.read_bytes() == xmp
        appended = two_signatures[len(form_pdf):]
        new_streams = {int(m.group(1)) for m in re.finditer(rb"(\d+) 0 obj\s*<<", appended)}
        for num in new_streams:
            obj = signed.get_object(num, 0)
            if isinstance(obj, pikepdf.Stream) and obj.get("/Type") != "/Metadata":
                assert "/Filter" in obj, (num, dict(obj.stream_dict))
    assert two_signatures.count(b"/Type /Metadata") <= form_pdf.count(b"/Type /Metadata")


def _signature_appearance(pdf: bytes) -> tuple[dict[int, float], Any, Any, list[float]]:
    """(/W widths by CID, the embedded font program, the appearance XObject's content
    operators, its /BBox width and height) of the first signed widget."""
    with pikepdf.open(BytesIO(pdf)) as doc:
        widget = next(a for a in doc.pages[0].Annots if a.get("/FT") == "/Sig" and "/V" in a)
        appearance = widget.AP.N
        cid_font = next(iter(appearance.Resources.Font.values())).DescendantFonts[0]
        widths: dict[int, float] = {}
        w = list(cid_font.W)
        for i in range(0, len(w), 2):
            for k, value in enumerate(w[i + 1]):
                widths[int(w[i]) + k] = float(value)
        program = TTFont(BytesIO(cid_font.FontDescriptor.FontFile2.read_bytes()))
        ops = [(list(operands), str(op)) for operands, op in
               pikepdf.parse_content_stream(appearance)]
        bbox = [float(v) for v in appearance.BBox]
    return widths, program, ops, [abs(bbox[2] - bbox[0]), abs(bbox[3] - bbox[1])]


def _signed_by(test_pki: TestPki, form_pdf: bytes, name: str) -> bytes:
    """``form_pdf`` signed B-B, visibly, by the RSA doctor under ``name``."""
    label = LABELS.doctor_rsa
    signer = InMemoryKeySigner.from_chain(test_pki.private_key(label),
                                          [test_pki.cert(label), *test_pki.chain(label)])
    return sign_pdf(form_pdf, SignRequest("doctor", name, role="Bác sĩ điều trị",
                                          level="B-B"), signer=signer)


def test_appearance_widths_match_the_font_and_text_is_not_letter_spaced(
        test_pki: TestPki, form_pdf: bytes, tmp_path: Path) -> None:
    name = "BS. Khổng Minh Ượng"
    signed = _signed_by(test_pki, form_pdf, name)
    widths, program, ops, (box_w, _box_h) = _signature_appearance(signed)
    upem = program["head"].unitsPerEm
    order, hmtx = program.getGlyphOrder(), program["hmtx"]
    for cid, width in widths.items():  # CIDToGIDMap /Identity: CID = glyph id
        assert abs(width - hmtx[order[cid]][0] * 1000 / upem) < 1, cid  # PDF/A 6.2.11.5

    # every line, drawn with the /W widths, fits the box (it overflowed, letter-spaced)
    scale, x0, size, lines = 1.0, 0.0, 0.0, 0
    for operands, op in ops:
        if op == "cm" and not lines:
            a, e = float(operands[0]), float(operands[4])
            x0 = x0 + e * scale
            scale *= a
        elif op == "Tf":
            size = float(operands[1])
        elif op == "TJ":
            advance = 0.0
            for item in operands[0]:
                if isinstance(item, pikepdf.String):
                    raw = bytes(item)
                    advance += sum(widths[int.from_bytes(raw[i:i + 2], "big")]
                                   for i in range(0, len(raw), 2))
                else:
                    advance -= float(item)
            lines += 1
            assert x0 + advance / 1000 * size * scale <= box_w + 0.5, (lines, advance, box_w)
    assert lines >= 3  # name, role, date, method

    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert name in text  # no letters split apart


@pytest.mark.services
@pytest.mark.parametrize("role", ["token_doctor_rsa", "token_doctor_ec"])
def test_token_signature_reserved_at_the_keys_real_size(
        test_services: Any, signer_pki: Any, form_pdf: bytes, role: str) -> None:
    """pyHanko's PKCS#11 dry run sizes every RSA/EC signature at 512 bytes: the
    reservation used to keep 256 (RSA-2048) or ~440 (P-256) zero bytes, twice as hex.
    Measured with the key's real maximal signature, the padding is the margin alone."""
    from hsm.pkcs11 import Pkcs11Keystore

    token = Pkcs11Keystore(test_services.pkcs11_module, test_services.pkcs11_token_label,
                           test_services.pkcs11_user_pin)
    try:
        signer = token.signer_for(getattr(signer_pki.pki.labels, role))
        signed = sign_pdf(form_pdf, SignRequest("doctor", "Token", level="B-T"),
                          signer=signer, timestampers=[signer_pki.timestamper()])
    finally:
        token.close()
    sig = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    contents = bytes(sig.sig_object["/Contents"])
    padding = len(contents) - len(cms.ContentInfo.load(contents).dump())
    assert 0 <= padding <= RESERVE_MARGIN // 2 + 16, padding
    checks.assert_ades_passed(signed, signer_pki.root, "B-T", 1)


def test_appearance_font_holds_only_the_glyphs_it_draws(
        test_pki: TestPki, form_pdf: bytes, tmp_path: Path) -> None:
    """Each signature embeds the Vietnamese cut reduced to the glyphs of its own
    appearance (ids kept, so /W and ToUnicode are pyHanko's): every drawn glyph keeps
    its outline, no other glyph has one, and the text still extracts."""
    from signer.appearance import vietnamese_font

    name = "BS. Khổng Minh Ượng"
    signed = _signed_by(test_pki, form_pdf, name)
    widths, program, _ops, _box = _signature_appearance(signed)
    full = TTFont(BytesIO(vietnamese_font()))

    def outlined(font: TTFont) -> set[int]:
        glyf, order = font["glyf"], font.getGlyphOrder()
        return {gid for gid, g in enumerate(order) if glyf[g].numberOfContours != 0}

    drawn = set(widths)
    glyf, order = full["glyf"], full.getGlyphOrder()
    needed, todo = set(drawn), list(drawn)
    while todo:  # composite glyphs (accented letters) need their components
        glyph = glyf[order[todo.pop()]]
        for component in (glyph.getComponentNames(glyf) if glyph.isComposite() else ()):
            if full.getGlyphID(component) not in needed:
                needed.add(full.getGlyphID(component))
                todo.append(full.getGlyphID(component))
    assert outlined(program) - {0} == needed & outlined(full)
    assert 20 < len(drawn) < 60
    with pikepdf.open(BytesIO(signed)) as doc:
        widget = next(a for a in doc.pages[0].Annots if a.get("/FT") == "/Sig" and "/V" in a)
        font = next(iter(widget.AP.N.Resources.Font.values()))
        assert "DejaVuSans" in str(font.BaseFont)  # "ổ", "Ượ" are not on the page
        embedded = font.DescendantFonts[0].FontDescriptor.FontFile2
        assert len(embedded.read_raw_bytes()) < 4000  # the whole cut: ~7,900
        # the text comes back from the compact ToUnicode alone, no /ActualText copy
        assert b"/ActualText" not in widget.AP.N.read_bytes()
        assert b"beginbfrange" in font.ToUnicode.read_bytes()
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    for line in (name, "Bác sĩ điều trị"):
        assert line in text


def _font_programs(pdf: bytes) -> int:
    with pikepdf.open(BytesIO(pdf)) as doc:
        return sum(1 for o in doc.objects
                   if isinstance(o, pikepdf.Dictionary) and "/FontFile2" in o)


def _page_font_objgens(doc: pikepdf.Pdf) -> set[tuple[int, int]]:
    return {f.objgen for f in doc.pages[0].Resources.Font.values()}


def test_appearance_uses_the_forms_own_font_when_it_has_every_glyph(
        test_pki: TestPki, form_pdf: bytes, tmp_path: Path) -> None:
    """A rendered hsba form carries its regular font with the appearance's characters
    (names on the page, templates.pdf_fonts.SIGNATURE_CHARS): the appearance refers to
    it and the signing revision embeds no font; a name with a letter the page lacks
    gets the DejaVu cut instead. Both PDF/A PASS, text extracts."""
    from templates.pdfa import check_pdfa
    from templates.render import render_form, sample_data

    data = sample_data("consent_surgery")
    form = render_form("consent_surgery", data, document_id="DOC-FONT-1",
                       verify_url="http://127.0.0.1/verify/DOC-FONT-1").pdf
    label = LABELS.doctor_rsa
    signer = InMemoryKeySigner.from_chain(test_pki.private_key(label),
                                          [test_pki.cert(label), *test_pki.chain(label)])
    with pikepdf.open(BytesIO(form)) as doc:
        widgets = [a for a in doc.pages[0].Annots if a.get("/FT") == "/Sig"]
        field = str(widgets[0].T)
        page_text = subprocess.run(["pdftotext", "-", "-"], input=form, capture_output=True,
                                   check=True).stdout.decode()
    name = next(line.strip() for line in page_text.splitlines() if line.startswith("BS."))
    for signer_name, own_font in ((name, True), ("BS. Khổng Minh Ượng Ỹ", False)):
        signed = sign_pdf(form, SignRequest(field, signer_name, role="Bác sĩ điều trị",
                                            level="B-B", method="hsm"), signer=signer)
        with pikepdf.open(BytesIO(signed)) as doc:
            widget = next(a for a in doc.pages[0].Annots if str(a.get("/T")) == field)
            fonts = list(widget.AP.N.Resources.Font.values())
            assert len(fonts) == 1
            assert (fonts[0].objgen in _page_font_objgens(doc)) is own_font, signer_name
        assert _font_programs(signed) - _font_programs(form) == (0 if own_font else 1)
        report = check_pdfa(signed)
        assert report.verdict == "PASS", report.failures
        path = tmp_path / "signed.pdf"
        path.write_bytes(signed)
        text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert signer_name in text and "Ký số (HSM)" in text and "(GMT+7)" in text


def test_signature_chars_cover_every_fixed_appearance_label() -> None:
    """What appearances draw besides names and roles is in the characters the renderer
    adds to a form's regular font (else every appearance embeds its own font)."""
    from signer.appearance import vn_datetime
    from signer.patient import _METHOD_VI
    from signer.request import METHOD_LABELS
    from templates.pdf_fonts import SIGNATURE_CHARS

    labels = [vi for vi, _ in METHOD_LABELS.values()] + list(_METHOD_VI.values())
    labels += ["Ký " + vn_datetime(datetime.now(UTC)), "Phương thức: ", "Người đại diện: ()",
               "Người bệnh", "0123456789"]
    missing = {c for label in labels for c in label} - set(SIGNATURE_CHARS)
    assert not missing, missing


@pytest.mark.services
def test_document_timestamp_revision_leaves_the_page_as_it_was(two_signatures: bytes) -> None:
    """The rendered form's page refers to its annotation array: adding the document
    timestamp's widget rewrites the array (~50 bytes), not the whole page."""
    eofs = [m.end() for m in re.finditer(rb"%%EOF\s*", two_signatures)]
    last = two_signatures[eofs[-2]:]
    written = {int(m.group(1)) for m in re.finditer(rb"(\d+) 0 obj", last)}
    with pikepdf.open(BytesIO(two_signatures)) as doc:
        page = doc.pages[0].obj
        assert page.objgen[0] not in written
        assert page.Annots.objgen[0] in written


def test_appearance_never_uses_a_font_whose_glyphs_differ_from_the_installed_one(
        test_pki: TestPki, tmp_path: Path) -> None:
    """A PDF whose regular font claims (ToUnicode) that the glyph of "u" is "n" would
    make hsba's own appearance text read differently from what it draws: the glyphs are
    checked against the installed font, and the appearance embeds the DejaVu cut."""
    from templates.render import render_form, sample_data
    from templates.tounicode import parse_to_unicode, to_unicode_cmap

    form = render_form("consent_surgery", sample_data("consent_surgery"),
                       document_id="DOC-FONT-2",
                       verify_url="http://127.0.0.1/verify/DOC-FONT-2").pdf
    label = LABELS.doctor_rsa
    signer = InMemoryKeySigner.from_chain(test_pki.private_key(label),
                                          [test_pki.cert(label), *test_pki.chain(label)])
    page_text = subprocess.run(["pdftotext", "-", "-"], input=form, capture_output=True,
                               check=True).stdout.decode()
    name = next(line.strip() for line in page_text.splitlines() if line.startswith("BS."))
    assert "n" in name and "u" in name  # "Huy", "Trần": both letters drawn
    for tamper in (False, True):  # the same file re-saved, without and with the swap
        with pikepdf.open(BytesIO(form)) as doc:
            field = str(next(a for a in doc.pages[0].Annots if a.get("/FT") == "/Sig").T)
            for font in doc.pages[0].Resources.Font.values():
                mapping = parse_to_unicode(font.ToUnicode.read_bytes())
                code = {text: c for c, text in mapping.items()}
                if tamper and "n" in code and "u" in code:
                    mapping[code["n"]], mapping[code["u"]] = "u", "n"
                font.ToUnicode.write(to_unicode_cmap(mapping))
            out = BytesIO()
            doc.save(out)
        signed = sign_pdf(out.getvalue(), SignRequest(
            field, name, role="Bác sĩ điều trị", level="B-B", method="hsm"),
            signer=signer)
        with pikepdf.open(BytesIO(signed)) as doc:
            widget = next(a for a in doc.pages[0].Annots if str(a.get("/T")) == field)
            font = next(iter(widget.AP.N.Resources.Font.values()))
            assert ("DejaVuSans" in str(font.BaseFont)) is tamper
