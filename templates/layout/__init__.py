"""Layout work done once per template version and reused by every render of that version.

- :mod:`templates.layout.matching`: selector matching and cascade of the elements of the
  version's sample render, reused for elements with the same markup and ancestors;
- :mod:`templates.layout.styles`: computed CSS values per cascade signature;
- :mod:`templates.layout.tables`: table column widths measured on the version's sample
  payload, applied as fixed widths (automatic layout again when data does not fit);
- :mod:`templates.layout.text`: line breaking of the text of the version's sample render,
  reused when a render breaks the very same text in the same conditions;
- :mod:`templates.layout.document`: the WeasyPrint render that uses them.

:class:`LayoutCache` holds one :class:`VersionLayout` per ``(form code, version)``: a new
template version is a new entry, the number of entries is bounded (least recently used
dropped), and the cache is safe to share between threads. Nothing in it comes from
patient data: computed CSS values keyed by which rules matched, column widths and line
breaks measured on the version's own sample payload.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from templates.layout.matching import MatchRecord
from templates.layout.styles import StyleCache
from templates.layout.tables import RecordedTable, TableSignature
from templates.layout.text import TextMeasures

WEASYPRINT_MAJOR = "70"
"""The WeasyPrint release whose internals the hooks follow (``StyleFor.__init__``,
``Document._build_layout_context``, ``auto_table_layout``, ``split_first_line``)."""

MAX_VERSIONS = 64
"""Template versions kept (ten forms today, each with one or a few versions in use)."""


@dataclass
class VersionLayout:
    """The layout cache of one template version."""

    form_code: str
    version: str
    styles: StyleCache = field(default_factory=StyleCache)
    text: TextMeasures = field(default_factory=TextMeasures)
    """Line breaking results of the version's sample render (read-only afterwards)."""
    matches: MatchRecord = field(default_factory=MatchRecord)
    """Selector matching and cascade of the sample's elements (read-only afterwards)."""
    table_widths: dict[TableSignature, RecordedTable] | None = None
    """Recorded on the version's sample payload at first use (``None`` before); filled
    and used under the render lock (``templates.render``), read-only afterwards."""


def supported() -> bool:
    """Whether the installed WeasyPrint is the release the hooks were written for (another
    one renders with WeasyPrint's own layout until the hooks are checked against it)."""
    import weasyprint

    return str(weasyprint.__version__).split(".")[0] == WEASYPRINT_MAJOR


class LayoutCache:
    """``(form code, version)`` → :class:`VersionLayout`, bounded, thread-safe."""

    def __init__(self, max_versions: int = MAX_VERSIONS) -> None:
        self._lock = threading.Lock()
        self._versions: OrderedDict[tuple[str, str], VersionLayout] = OrderedDict()
        self.max_versions = max_versions

    def version(self, form_code: str, version: str) -> VersionLayout:
        key = (form_code, version)
        with self._lock:
            entry = self._versions.get(key)
            if entry is None:
                entry = self._versions[key] = VersionLayout(form_code, version)
                while len(self._versions) > self.max_versions:
                    self._versions.popitem(last=False)
            else:
                self._versions.move_to_end(key)
            return entry

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._versions

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._versions)

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()
