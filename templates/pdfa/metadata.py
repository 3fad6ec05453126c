"""Metadata (ISO 19005-1 6.7, 19005-2/3 6.6): XMP packet, identification, Info sync, schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pikepdf
from lxml import etree

from templates.pdfa.report import Inspection
from templates.pdfa.xmp_schemas import NAMESPACES
from templates.pdfa.xmp_values import RDF, SIMPLE_TYPES, XML_LANG, Node, check_value, parse_node

PDFAID = "http://www.aiim.org/pdfa/ns/id/"
EXT = "http://www.aiim.org/pdfa/ns/extension/"
SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
PROPERTY = "http://www.aiim.org/pdfa/ns/property#"
TYPE = "http://www.aiim.org/pdfa/ns/type#"
FIELD = "http://www.aiim.org/pdfa/ns/field#"
DC, XMP, PDF = ("http://purl.org/dc/elements/1.1/", "http://ns.adobe.com/xap/1.0/",
                "http://ns.adobe.com/pdf/1.3/")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def read_xmp(pdf: pikepdf.Pdf) -> etree._Element | None:
    meta = pdf.Root.get("/Metadata")
    if not isinstance(meta, pikepdf.Stream):
        return None
    try:
        return etree.fromstring(meta.read_bytes(), _PARSER)
    except (etree.XMLSyntaxError, ValueError, pikepdf.PdfError):
        return None


def _descriptions(root: etree._Element) -> list[etree._Element]:
    rdf = root if etree.QName(root).localname == "RDF" else root.find(f"{{{RDF}}}RDF")
    return [] if rdf is None else rdf.findall(f"{{{RDF}}}Description")


def properties(root: etree._Element) -> list[tuple[str, str, Node]]:
    """Every top-level XMP property as (namespace, name, value)."""
    out: list[tuple[str, str, Node]] = []
    for d in _descriptions(root):
        for k, v in d.attrib.items():
            if k.startswith("{") and not k.startswith(f"{{{RDF}}}") and k != XML_LANG:
                q = etree.QName(k)
                out.append((q.namespace or "", q.localname, Node("literal", text=v)))
        for c in d:
            if isinstance(c.tag, str):
                q = etree.QName(c)
                out.append((q.namespace or "", q.localname, parse_node(c)))
    return out


def identification(pdf: pikepdf.Pdf) -> tuple[int | None, str | None]:
    root = read_xmp(pdf)
    if root is None:
        return None, None
    part = conf = None
    for ns, name, node in properties(root):
        if ns == PDFAID and name == "part" and node.kind == "literal":
            part = int(node.text.strip()) if node.text.strip().isdigit() else None
        if ns == PDFAID and name == "conformance" and node.kind == "literal":
            conf = node.text.strip()
    return part, conf


def check_packet(ins: Inspection) -> None:
    meta = ins.pdf.Root.get("/Metadata")
    clause = {1: "6.7.2", 2: "6.6.2.1"}
    if not isinstance(meta, pikepdf.Stream):
        ins.fail(clause, "The catalog has no XMP Metadata stream.")
        return
    data = meta.read_bytes()
    head = data[:200]
    if re.search(rb"<\?xpacket[^>]*\b(bytes|encoding)\s*=", head):
        ins.fail({1: "6.7.5", 2: "6.6.2.1"}, "The xpacket header has a bytes or encoding attribute.")
    if read_xmp(ins.pdf) is None:
        ins.fail(clause, "The XMP metadata is not well-formed XML.")
    if ins.part == 1:
        m = re.search(rb"<\?xpacket\s+begin\s*=\s*(['\"])(.*?)\1", head)
        if m is None or m.group(2) != b"\xef\xbb\xbf":
            ins.fail("6.7.2", "The XMP packet header is missing or its begin attribute is "
                              "not the byte order mark U+FEFF.")
    if ins.part == 1 and "/Filter" in meta.stream_dict:
        ins.fail("6.7.2", "The metadata stream is filtered (compressed).")


def check_identification(ins: Inspection) -> None:
    part, conf = identification(ins.pdf)
    clause = {1: "6.7.11", 2: "6.6.4"}
    if part is None:
        ins.fail(clause, "pdfaid:part is missing from the XMP metadata.")
    allowed = {"A", "B"} if ins.part == 1 else {"A", "B", "U"}
    if conf is None or conf not in allowed:
        ins.fail(clause, f"pdfaid:conformance is missing or invalid ({conf!r}).")


def _pdf_date(text: str) -> datetime | None:
    m = re.match(r"^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+\-])?(\d{2})?'?(\d{2})?'?$",
                 text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, sign, th, tm = m.groups()
    tz = UTC
    if sign in ("+", "-"):
        off = timedelta(hours=int(th or 0), minutes=int(tm or 0))
        tz = timezone(off if sign == "+" else -off)
    try:
        return datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0),
                        int(s or 0), tzinfo=tz if sign else None)
    except ValueError:
        return None


def _xmp_date(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return dt


def check_info_sync(ins: Inspection) -> None:
    """PDF/A-1 6.7.3: Info entries equivalent to their XMP properties. PDF/A-2/3 do not
    require it (veraPDF's own conforming 6.1.5 file has a diverging Info dictionary)."""
    if ins.part != 1:
        return
    info = ins.pdf.trailer.get("/Info")
    root = read_xmp(ins.pdf)
    if info is None or root is None:
        return
    props: dict[tuple[str, str], Node] = {(ns, n): v for ns, n, v in properties(root)}
    clause = "6.7.3"

    def first(ns: str, name: str, kind: str) -> str | None:
        node = props.get((ns, name))
        if node is None:
            return None
        if kind == "literal":
            return node.text if node.kind == "literal" else None
        if node.kind != kind or not node.items:
            return None
        if kind == "Alt":
            for item, lang in node.items:
                if lang == "x-default":
                    return item.text
            return None
        return node.items[0][0].text if len(node.items) == 1 else "\x00multiple"

    pairs = (("/Title", DC, "title", "Alt"), ("/Author", DC, "creator", "Seq"),
             ("/Subject", DC, "description", "Alt"), ("/Keywords", PDF, "Keywords", "literal"),
             ("/Creator", XMP, "CreatorTool", "literal"), ("/Producer", PDF, "Producer", "literal"))
    for key, ns, name, kind in pairs:
        if key not in info:
            continue
        try:
            value = str(info[key])
        except (ValueError, pikepdf.PdfError):
            continue
        xmp_value = first(ns, name, kind)
        if xmp_value is None or xmp_value != value:
            ins.fail(clause, f"Info {key} is not equivalent to the XMP {name}.")
    for key, name in (("/CreationDate", "CreateDate"), ("/ModDate", "ModifyDate")):
        if key not in info:
            continue
        node = props.get((XMP, name))
        a = _pdf_date(str(info[key]))
        b = _xmp_date(node.text) if node is not None and node.kind == "literal" else None
        if a is None or b is None:
            ins.fail(clause, f"Info {key} has no equivalent xmp:{name}.")
            continue
        if (a.tzinfo is None) != (b.tzinfo is None) or a != b:
            ins.fail(clause, f"Info {key} is not equivalent to xmp:{name}.")


def check_schemas(ins: Inspection) -> None:
    """6.6.2.3: every property is predefined or declared by a valid extension schema."""
    root = read_xmp(ins.pdf)
    if root is None:
        return
    props = properties(root)
    declared, types = _extension_schemas(ins, props)
    c1 = {1: "6.7.9", 2: "6.6.2.3.1"}
    for ns, name, node in props:
        if ns == EXT:
            continue
        vtype = declared.get(ns, {}).get(name) or NAMESPACES.get(ns, {}).get(name)
        if vtype is None:
            ins.fail(c1, f"XMP property {name} ({ns}) is neither predefined nor declared "
                         "in an extension schema.")
            continue
        reason = check_value(node, vtype, types)
        if reason:
            ins.fail(c1, f"XMP property {name}: {reason}.")


_KNOWN_TYPES = SIMPLE_TYPES | {"Bag Text", "Seq Text", "Alt Text", "Bag ProperName",
                               "Seq ProperName", "Bag Locale", "Seq Date", "Bag Date",
                               "Bag Integer", "Seq Integer", "Seq Real", "Seq Rational"}


def _extension_schemas(ins: Inspection, props: list[tuple[str, str, Node]]
                       ) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    declared: dict[str, dict[str, str]] = {}
    types: dict[str, dict[str, str]] = {}
    c2 = {1: "6.7.8", 2: "6.6.2.3.2"}
    c3 = {1: "6.7.8", 2: "6.6.2.3.3"}
    for ns, name, node in props:
        if ns != EXT:
            continue
        if name != "schemas" or node.kind != "Bag":
            ins.fail(c2, "pdfaExtension:schemas must be an unordered array (rdf:Bag).")
            continue
        for schema, _ in node.items:
            if schema.kind != "struct":
                ins.fail(c3, "An extension schema entry is not a structure.")
                continue
            f = {(fns, fname): fnode for fns, fname, fnode in schema.fields}
            for fns, fname, _n in schema.fields:
                if fns != SCHEMA or fname not in ("schema", "namespaceURI", "prefix",
                                                  "property", "valueType"):
                    ins.fail(c3, f"Unknown field {fname} in a pdfaSchema structure.")
            uri = f.get((SCHEMA, "namespaceURI"))
            if uri is None or uri.kind != "literal" or f.get((SCHEMA, "prefix")) is None \
                    or f.get((SCHEMA, "schema")) is None:
                ins.fail(c3, "Extension schema lacks schema, namespaceURI or prefix.")
                continue
            for vt, _ in (f[(SCHEMA, "valueType")].items
                          if (SCHEMA, "valueType") in f and f[(SCHEMA, "valueType")].kind == "Seq"
                          else []):
                tf = {(a, b): c for a, b, c in vt.fields}
                if vt.kind != "struct" or any(a != TYPE for a, _b, _c in vt.fields) \
                        or (TYPE, "type") not in tf or (TYPE, "namespaceURI") not in tf \
                        or (TYPE, "prefix") not in tf or (TYPE, "description") not in tf:
                    ins.fail(c3, "Invalid pdfaType value type description.")
                    continue
                fields: dict[str, str] = {}
                fnode = tf.get((TYPE, "field"))
                for fd, _ in (fnode.items if fnode is not None and fnode.kind == "Seq" else []):
                    ff = {(a, b): c for a, b, c in fd.fields}
                    if any(a != FIELD for a, _b, _c in fd.fields) or (FIELD, "name") not in ff \
                            or (FIELD, "valueType") not in ff or (FIELD, "description") not in ff:
                        ins.fail(c3, "Invalid pdfaField description.")
                        continue
                    fields[ff[(FIELD, "name")].text] = ff[(FIELD, "valueType")].text
                fields["__ns__"] = tf[(TYPE, "namespaceURI")].text.strip()
                types[tf[(TYPE, "type")].text.strip()] = fields
            if (SCHEMA, "valueType") in f and f[(SCHEMA, "valueType")].kind != "Seq":
                ins.fail(c3, "pdfaSchema:valueType must be an ordered array.")
            plist = f.get((SCHEMA, "property"))
            names = declared.setdefault(uri.text.strip(), {})
            if plist is None:
                continue
            if plist.kind != "Seq":
                ins.fail(c3, "pdfaSchema:property must be an ordered array (rdf:Seq).")
                continue
            for prop, _ in plist.items:
                pf = {(a, b): c for a, b, c in prop.fields} if prop.kind == "struct" else {}
                bad_ns = any(a != PROPERTY for a, _b, _c in prop.fields)
                if prop.kind != "struct" or bad_ns or not all(
                        (PROPERTY, k) in pf for k in ("name", "valueType", "category",
                                                      "description")):
                    ins.fail(c3, "Extension property lacks name, valueType, category or "
                                 "description, or uses a wrong namespace.")
                    continue
                if pf[(PROPERTY, "category")].text.strip() not in ("internal", "external"):
                    ins.fail(c3, "Extension property category must be internal or external.")
                vtype = pf[(PROPERTY, "valueType")].text.strip()
                base = vtype.split(" ", 1)[1] if vtype.split(" ", 1)[0] in (
                    "Seq", "Bag", "Alt") and " " in vtype else vtype
                if vtype not in _KNOWN_TYPES and base not in SIMPLE_TYPES \
                        and base not in types:
                    ins.fail(c3, f"Extension property value type '{vtype}' is not defined.")
                names[pf[(PROPERTY, "name")].text.strip()] = vtype
    return declared, types


_PREFIXES = {PDFAID: "pdfaid", EXT: "pdfaExtension", SCHEMA: "pdfaSchema",
             PROPERTY: "pdfaProperty", TYPE: "pdfaType", FIELD: "pdfaField"}


def check_prefixes(ins: Inspection) -> None:
    """PDF/A identification and extension schemas must use their standard prefixes."""
    root = read_xmp(ins.pdf)
    if root is None:
        return
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        q = etree.QName(el)
        if q.namespace in _PREFIXES and el.prefix != _PREFIXES[q.namespace]:
            clause = {1: "6.7.11", 2: "6.6.4"} if q.namespace == PDFAID else {
                1: "6.7.8", 2: "6.6.2.3.3"}
            ins.fail(clause, f"XMP element {q.localname} uses prefix {el.prefix!r} instead of "
                             f"{_PREFIXES[q.namespace]!r}.")
        for attr in el.attrib:
            aq = etree.QName(attr)
            if aq.namespace in _PREFIXES:
                prefixes = {p for p, u in el.nsmap.items() if u == aq.namespace}
                if _PREFIXES[aq.namespace] not in prefixes:
                    ins.fail({1: "6.7.11", 2: "6.6.4"} if aq.namespace == PDFAID else {
                        1: "6.7.8", 2: "6.6.2.3.3"},
                        f"XMP attribute {aq.localname} does not use prefix "
                        f"{_PREFIXES[aq.namespace]!r}.")


RULES = (check_packet, check_identification, check_info_sync, check_schemas, check_prefixes)
