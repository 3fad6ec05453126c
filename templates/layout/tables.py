"""Table column widths measured once per template version, then applied as fixed widths.

WeasyPrint's automatic table layout measures the min- and max-content width of every cell
(one Pango layout per word for the min-content width) before it lays a single row out:
about a third of a form's layout time. A form's tables have the same columns in every
render, so hsba measures them once per template version, on the version's own sample
payload (never on patient data), and later renders give each table those column widths
directly, as ``table-layout: fixed`` would: no content measurement.

A table gets recorded widths only when its structure matches the recorded one (class,
number of columns, header texts, containing width, position among such tables) and its
used width is the specified one. Patient data can still need more room than the sample
did (a word or an amount wider than its column): :func:`overflowing_tables` finds any
text or box that leaves its cell after layout, and the caller then lays the document out
again with WeasyPrint's automatic layout. The recorded widths are numbers keyed by the
template's own markup; nothing of a patient is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from weasyprint.formatting_structure.boxes import LineBox, TableBox, TableCellBox
from weasyprint.layout import table as weasy_table

EPSILON_PX = 0.01
TableSignature = tuple[str, int, tuple[str, ...], float, int]


@dataclass(frozen=True)
class RecordedTable:
    width: float
    """The table's used width (its specified width, resolved)."""
    column_widths: tuple[float, ...]


@dataclass
class TablePass:
    """What one render does with its tables: record widths, or apply recorded ones."""

    record: bool
    widths: dict[TableSignature, RecordedTable] = field(default_factory=dict)
    applied: set[Any] = field(default_factory=set)
    """Elements of the tables laid out with recorded widths (this render)."""
    _ordinals: dict[Any, int] = field(default_factory=dict)
    _counts: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def signature(self, table: Any, containing_width: float) -> TableSignature:
        element = table.element
        columns = 0
        for group in table.children:
            for row in group.children:
                for cell in row.children:
                    columns = max(columns, cell.grid_x + cell.colspan)
        headers = tuple(" ".join("".join(th.itertext()).split()) for th in element.iter("th"))
        base = (element.get("class") or "", columns, headers, round(containing_width, 3))
        ordinal = self._ordinals.get(element)
        if ordinal is None:
            ordinal = self._ordinals[element] = self._counts.get(base, 0)
            self._counts[base] = ordinal + 1
        return (*base, ordinal)


_original_auto_table_layout = weasy_table.auto_table_layout
_install_lock = threading.Lock()


def _auto_table_layout(context: Any, box: Any, containing_block: Any) -> None:
    """``auto_table_layout`` for WeasyPrint; hsba's renders carry a :class:`TablePass`."""
    tables: TablePass | None = getattr(context, "hsba_tables", None)
    if tables is None:
        _original_auto_table_layout(context, box, containing_block)
        return
    table = box.get_wrapped_table()
    specified = table.width
    if specified == "auto" or table.style["table_layout"] == "fixed":
        _original_auto_table_layout(context, box, containing_block)
        return
    signature = tables.signature(table, containing_block[0])
    if tables.record:
        _original_auto_table_layout(context, box, containing_block)
        if table.width == specified and table.column_widths:
            tables.widths[signature] = RecordedTable(table.width,
                                                     tuple(table.column_widths))
        return
    recorded = tables.widths.get(signature)
    if (recorded is None or recorded.width != specified
            or len(recorded.column_widths) != signature[1]):
        _original_auto_table_layout(context, box, containing_block)
        return
    table.column_widths = list(recorded.column_widths)
    tables.applied.add(table.element)


def install() -> None:
    """Route WeasyPrint's automatic table layout through :func:`_auto_table_layout`
    (idempotent). Renders without a :class:`TablePass` keep WeasyPrint's behaviour."""
    with _install_lock:
        if weasy_table.auto_table_layout is not _auto_table_layout:
            weasy_table.auto_table_layout = _auto_table_layout


def _leaves(box: Any, left: float, right: float) -> bool:
    for child in box.descendants():
        if child is box or isinstance(child, LineBox | TableBox):
            continue
        width = getattr(child, "width", None)
        x = getattr(child, "position_x", None)
        if not isinstance(width, int | float) or not isinstance(x, int | float):
            continue
        start = child.border_box_x()
        if start < left - EPSILON_PX or start + child.border_width() > right + EPSILON_PX:
            return True
    return False


def overflowing_tables(document: Any, elements: set[Any]) -> bool:
    """Whether any content of the given tables leaves its cell in the laid-out pages."""
    if not elements:
        return False
    for page in document.pages:
        for box in page._page_box.descendants():
            if not (isinstance(box, TableBox) and box.element in elements):
                continue
            for cell in box.descendants():
                if isinstance(cell, TableCellBox):
                    left = cell.content_box_x()
                    if _leaves(cell, left, left + cell.width):
                        return True
    return False
