"""Checking XMP property values against their declared types (ISO 19005-2 6.6.2.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from templates.pdfa.xmp_schemas import STRUCTS

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_SIMPLE_RE = {
    "Integer": re.compile(r"^[+-]?\d+$"),
    "Real": re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$"),
    "Boolean": re.compile(r"^(True|False)$"),
    "Rational": re.compile(r"^[+-]?\d+/[+-]?\d+$"),
    "Date": re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"),
    "GPSCoordinate": re.compile(r"^\d{1,3},\d{1,2}(,\d{1,2}|\.\d+)[NSEW]$"),
}
SIMPLE_TYPES = {"Text", "Integer", "Real", "Boolean", "Rational", "Date", "URI", "URL",
                "MIMEType", "Locale", "AgentName", "ProperName", "GUID", "RenditionClass",
                "XPath", "GPSCoordinate", "Lang Alt", "LangAlt", "Choice", "Open Choice",
                "Closed Choice", "Part", "FrameCount", "FrameRate"}


@dataclass
class Node:
    """An RDF property value: literal text, an array (Seq/Bag/Alt) or a structure."""

    kind: str  # "literal" | "Seq" | "Bag" | "Alt" | "struct" | "bad"
    text: str = ""
    items: list[tuple[Node, str | None]] = field(default_factory=list)
    fields: list[tuple[str, str, Node]] = field(default_factory=list)  # (ns, name, node)


def parse_node(el: etree._Element) -> Node:
    if el.get(f"{{{RDF}}}resource") is not None:
        return Node("literal", text=el.get(f"{{{RDF}}}resource") or "")
    children = [c for c in el if isinstance(c.tag, str)]
    if el.get(f"{{{RDF}}}parseType") == "Resource":
        return _struct(children, el)
    if not children:
        attrs = [(k, v) for k, v in el.attrib.items() if not k.startswith(f"{{{RDF}}}")
                 and k != XML_LANG]
        if attrs:  # property element with property attributes: a structure
            return _struct([], el)
        return Node("literal", text=el.text or "")
    if len(children) != 1:
        return Node("bad")
    child = children[0]
    q = etree.QName(child)
    if q.namespace == RDF and q.localname in ("Seq", "Bag", "Alt"):
        items = []
        for li in child:
            if not isinstance(li.tag, str):
                continue
            if etree.QName(li).localname != "li" or etree.QName(li).namespace != RDF:
                return Node("bad")
            items.append((parse_node(li), li.get(XML_LANG)))
        return Node(q.localname, items=items)
    if q.namespace == RDF and q.localname == "Description":
        return _struct([c for c in child if isinstance(c.tag, str)], child)
    return Node("bad")


def _struct(children: list[etree._Element], holder: etree._Element) -> Node:
    fields: list[tuple[str, str, Node]] = []
    for k, v in holder.attrib.items():
        if k.startswith("{") and not k.startswith(f"{{{RDF}}}") and k != XML_LANG:
            q = etree.QName(k)
            fields.append((q.namespace or "", q.localname, Node("literal", text=v)))
    for c in children:
        q = etree.QName(c)
        fields.append((q.namespace or "", q.localname, parse_node(c)))
    value = [f for f in fields if f[0] == RDF and f[1] == "value"]
    if value:  # a qualified simple value: check the value itself
        return value[0][2]
    return Node("struct", fields=fields)


def check_value(node: Node, vtype: str, custom: dict[str, dict[str, str]] | None = None,
                depth: int = 0) -> str | None:
    """``None`` if ``node`` conforms to ``vtype``; else a reason."""
    if depth > 20:
        return "nesting too deep"
    vtype = vtype.strip()
    if node.kind == "bad":
        return "malformed RDF value"
    if vtype in ("LangAlt", "Lang Alt"):
        if node.kind != "Alt":
            return "expected a language alternative (rdf:Alt)"
        for item, lang in node.items:
            if lang is None or item.kind != "literal":
                return "language alternative item without xml:lang"
        return None
    for container in ("Seq", "Bag", "Alt"):
        if vtype.startswith(container + " "):
            inner = vtype.split(" ", 1)[1]
            if node.kind != container:
                return f"expected rdf:{container}"
            for item, _ in node.items:
                reason = check_value(item, inner, custom, depth + 1)
                if reason:
                    return reason
            return None
    if vtype in STRUCTS or (custom and vtype in custom):
        if node.kind != "struct":
            return f"expected a {vtype} structure"
        if vtype in STRUCTS:
            ns, fields = STRUCTS[vtype]
            for fns, fname, fnode in node.fields:
                if fns != ns or fname not in fields:
                    return f"unknown field {fname} in {vtype}"
                reason = check_value(fnode, fields[fname], custom, depth + 1)
                if reason:
                    return f"{fname}: {reason}"
        else:
            fields = custom[vtype] if custom else {}
            for fns, fname, fnode in node.fields:
                if fname not in fields or fname == "__ns__" or fns != fields.get("__ns__"):
                    return f"field {fname} is not declared by the {vtype} value type"
                reason = check_value(fnode, fields[fname], custom, depth + 1)
                if reason:
                    return f"{fname}: {reason}"
        return None
    if node.kind != "literal":
        return f"expected a simple {vtype} value"
    pattern = _SIMPLE_RE.get(vtype)
    if pattern and not pattern.match(node.text.strip()):
        return f"'{node.text[:40]}' is not a valid {vtype}"
    return None
