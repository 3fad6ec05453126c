"""Bounded walks over the objects a page uses (resources, XObjects, annotations)."""

from __future__ import annotations

from collections.abc import Iterator

import pikepdf


def resource_dicts(pdf: pikepdf.Pdf, limit: int = 5000) -> Iterator[pikepdf.Dictionary]:
    """Every Resources dictionary reachable from pages, form XObjects, patterns, annotations."""
    seen: set[tuple[int, int]] = set()
    stack: list[pikepdf.Object] = []
    for page in pdf.pages:
        stack.append(page.obj)
    count = 0
    while stack and count < limit:
        obj = stack.pop()
        if obj.is_indirect:
            key = obj.objgen
            if key in seen:
                continue
            seen.add(key)
        count += 1
        d = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
        if not isinstance(d, pikepdf.Dictionary):
            continue
        res = d.get("/Resources")
        if isinstance(res, pikepdf.Dictionary):
            yield res
            for cat in ("/XObject", "/Pattern"):
                sub = res.get(cat)
                if isinstance(sub, pikepdf.Dictionary):
                    stack.extend(sub.values())
            fonts = res.get("/Font")
            if isinstance(fonts, pikepdf.Dictionary):
                for f in fonts.values():
                    if isinstance(f, pikepdf.Dictionary) and f.get("/Subtype") == "/Type3":
                        stack.append(f)
        for annot in d.get("/Annots", []) if isinstance(d.get("/Annots"), pikepdf.Array) else []:
            ap = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
            if isinstance(ap, pikepdf.Dictionary):
                for v in ap.values():
                    if isinstance(v, pikepdf.Stream):
                        stack.append(v)
                    elif isinstance(v, pikepdf.Dictionary):
                        stack.extend(x for x in v.values() if isinstance(x, pikepdf.Stream))


def all_dicts(pdf: pikepdf.Pdf, limit: int = 200_000) -> Iterator[pikepdf.Dictionary]:
    """Every dictionary of the file, indirect or nested directly inside another (bounded)."""
    count = 0
    for obj in pdf.objects:
        stack: list[pikepdf.Object] = [obj.stream_dict if isinstance(obj, pikepdf.Stream)
                                       else obj]
        while stack and count < limit:
            cur = stack.pop()
            count += 1
            if isinstance(cur, pikepdf.Dictionary):
                yield cur
                children = cur.values()
            elif isinstance(cur, pikepdf.Array):
                children = list(cur)
            else:
                continue
            stack.extend(c for c in children if isinstance(
                c, (pikepdf.Dictionary, pikepdf.Array)) and not c.is_indirect)


def all_objects(pdf: pikepdf.Pdf, limit: int = 500_000) -> Iterator[object]:
    """Every value of the file as Python/pikepdf scalars and containers (bounded)."""
    count = 0
    for root in pdf.objects:
        stack: list[object] = [root.stream_dict if isinstance(root, pikepdf.Stream) else root]
        while stack and count < limit:
            cur = stack.pop()
            count += 1
            if isinstance(cur, pikepdf.Dictionary):
                yield cur
                for key in cur.keys():  # noqa: SIM118 (pikepdf Dictionary)
                    yield pikepdf.Name(key)
                children = list(cur.values())
            elif isinstance(cur, pikepdf.Array):
                yield cur
                children = list(cur)
            else:
                yield cur
                continue
            for c in children:
                if isinstance(c, (pikepdf.Dictionary, pikepdf.Array)) and c.is_indirect:
                    continue
                stack.append(c)


def font_dicts(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    """Every font dictionary in the resources :func:`resource_dicts` reaches, each once."""
    seen: set[tuple[int, int]] = set()
    out = []
    for res in resource_dicts(pdf):
        fonts = res.get("/Font")
        if not isinstance(fonts, pikepdf.Dictionary):
            continue
        for f in fonts.values():
            if not isinstance(f, pikepdf.Dictionary):
                continue
            if f.is_indirect:
                if f.objgen in seen:
                    continue
                seen.add(f.objgen)
            out.append(f)
    return out
