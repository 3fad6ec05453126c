"""Finish a rendered form in one clean revision (pikepdf): XMP, ``data.json``, signature fields.

- XMP: PDF/A-3B identification, title, language ``vi``, form code and version and the
  hsba document id (declared by a PDF/A extension schema), with the Info dictionary
  rebuilt to match it.
- ``data.json`` embedded as an associated file (``/AFRelationship /Data``, MIME
  ``application/json``), listed once in the catalogue's ``/AF``.
- one empty signature field per signature block (widget with the print flag and an
  empty appearance stream), named after the role, where the block was laid out.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from core.errors import InvalidInput

if TYPE_CHECKING:
    from templates.catalogue import FormInfo
    from templates.render import FormHtml, SignatureFieldSpec

HSBA_NS = "https://hsba.vn/ns/form/1.0/"
PRODUCER = "hsba (WeasyPrint, pikepdf)"

_EXTENSION = """<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>hsba clinical form identification</pdfaSchema:schema>
<pdfaSchema:namespaceURI>{ns}</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>hsba</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq>{props}</rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>"""
_PROP = """<rdf:li rdf:parseType="Resource"><pdfaProperty:name>{name}</pdfaProperty:name>
<pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category>
<pdfaProperty:description>{desc}</pdfaProperty:description></rdf:li>"""
_PROPS = (("FormCode", "Form code in the hsba catalogue"),
          ("FormVersion", "Version of the form template"),
          ("DocumentId", "hsba document identifier"))


def _xmp(title: str, info: FormInfo, document_id: str, when: str) -> bytes:
    props = "".join(_PROP.format(name=n, desc=d) for n, d in _PROPS)
    body = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 xmlns:pdf="http://ns.adobe.com/pdf/1.3/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
 xmlns:hsba="{HSBA_NS}" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>
<dc:language><rdf:Bag><rdf:li>vi</rdf:li></rdf:Bag></dc:language>
<dc:identifier>{escape(document_id)}</dc:identifier>
<xmp:CreatorTool>hsba</xmp:CreatorTool><xmp:CreateDate>{when}</xmp:CreateDate>
<xmp:ModifyDate>{when}</xmp:ModifyDate><xmp:MetadataDate>{when}</xmp:MetadataDate>
<pdf:Producer>{PRODUCER}</pdf:Producer>
<xmpMM:DocumentID>uuid:{uuid.uuid5(uuid.NAMESPACE_URL, HSBA_NS + document_id)}</xmpMM:DocumentID>
<hsba:FormCode>{escape(info.code)}</hsba:FormCode><hsba:FormVersion>{escape(info.version)}</hsba:FormVersion>
<hsba:DocumentId>{escape(document_id)}</hsba:DocumentId>
{_EXTENSION.format(ns=HSBA_NS, props=props)}
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""
    return body.encode("utf-8")


def _write_metadata(pdf: pikepdf.Pdf, fh: FormHtml, info: FormInfo, document_id: str,
                    now: datetime) -> None:
    when = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    pdf_date = now.strftime("D:%Y%m%d%H%M%SZ")
    # Left unfiltered: pikepdf's PDF/A-preserving save keeps XMP readable as text.
    stream = pdf.make_stream(_xmp(fh.title, info, document_id, when))
    stream.Type = Name.Metadata
    stream.Subtype = Name.XML
    pdf.Root.Metadata = stream
    # No /Producer or /ModDate in Info: signing software (pyHanko) rewrites those two Info
    # entries when present without touching the XMP, which would break the Info/XMP
    # equivalence PDF/A requires; the XMP carries them.
    pdf.trailer.Info = pdf.make_indirect(Dictionary(
        Title=String(fh.title), Creator=String("hsba"), CreationDate=String(pdf_date)))
    pdf.Root.Lang = String("vi")


def _attach_data(pdf: pikepdf.Pdf, data_json: bytes, now: datetime) -> None:
    pdf_date = now.strftime("D:%Y%m%d%H%M%SZ")
    spec = pikepdf.AttachedFileSpec(
        pdf, data_json, description="Dữ liệu biểu mẫu / form data (JSON)",
        filename="data.json", mime_type="application/json",
        creation_date=pdf_date, mod_date=pdf_date, relationship=Name.Data)
    # Drop whatever WeasyPrint embedded, then attach exactly one data.json.
    for key in list(pdf.attachments.keys()):
        del pdf.attachments[key]
    pdf.attachments["data.json"] = spec
    filespec = pdf.Root.Names.EmbeddedFiles.Names[1]
    pdf.Root.AF = Array([filespec])


def _add_signature_fields(pdf: pikepdf.Pdf, fields: list[SignatureFieldSpec]) -> None:
    if not fields:
        return
    if "/AcroForm" not in pdf.Root:
        pdf.Root.AcroForm = pdf.make_indirect(Dictionary(Fields=Array()))
    acroform = pdf.Root.AcroForm
    if "/Fields" not in acroform:
        acroform.Fields = Array()
    existing = {str(f.get("/T", "")) for f in acroform.Fields}
    for spec in fields:
        if spec.name in existing:
            raise InvalidInput("form.duplicate_signature_field",
                               f"Trùng tên trường chữ ký '{spec.name}'.",
                               f"Duplicate signature field name '{spec.name}'.")
        page = pdf.pages[spec.page]
        x1, y1, x2, y2 = spec.box
        appearance = pdf.make_stream(b"")
        appearance.Type = Name.XObject
        appearance.Subtype = Name.Form
        appearance.BBox = Array([0, 0, round(x2 - x1, 2), round(y2 - y1, 2)])
        appearance.Resources = Dictionary()
        widget = pdf.make_indirect(Dictionary(
            Type=Name.Annot, Subtype=Name.Widget, FT=Name.Sig, T=String(spec.name),
            TU=String(f"Chữ ký: {spec.role}"), Rect=Array(list(spec.box)), F=4,
            P=page.obj, AP=Dictionary(N=appearance)))
        if "/Annots" not in page.obj:
            page.obj.Annots = Array()
        page.obj.Annots.append(widget)
        acroform.Fields.append(widget)


def finish_pdf(raw: bytes, fh: FormHtml, info: FormInfo, *, document_id: str,
               signature_fields: list[SignatureFieldSpec]) -> bytes:
    """One revision: metadata, embedded data, empty signature fields."""
    now = datetime.now(UTC).replace(microsecond=0)
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        _write_metadata(pdf, fh, info, document_id, now)
        _attach_data(pdf, fh.data_json, now)
        _add_signature_fields(pdf, signature_fields)
        out = io.BytesIO()
        pdf.save(out, compress_streams=True, fix_metadata_version=False,
                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()
