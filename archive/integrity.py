"""Integrity sweep: re-hash stored objects against the records index."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from archive.index import RecordsIndex
from archive.keys import parse_key
from archive.store import ObjectStore
from core.errors import ArchiveError


@dataclass
class IntegrityReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    """In the index, not in the store."""
    mismatched: list[str] = field(default_factory=list)
    """In both, content does not match its sha256."""
    extra: list[str] = field(default_factory=list)
    """Document objects in the store the index does not know (pending intents excluded)."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatched or self.extra)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def check_archive(index: RecordsIndex, store: ObjectStore, *, rehash: bool = True,
                  pending_keys: set[str] | None = None) -> IntegrityReport:
    report = IntegrityReport()
    known: set[str] = set()
    after = 0
    while True:
        batch = index.all_versions(after)
        if not batch:
            break
        for row_id, v in batch:
            after = row_id
            known.add(v.object_key)
            report.checked += 1
            if not store.exists(v.object_key):
                report.missing.append(v.object_key)
                continue
            if rehash:
                try:
                    store.get(v.object_key)  # sha256 checked against key and metadata
                except ArchiveError:
                    report.mismatched.append(v.object_key)
    pending = pending_keys or set()
    for key in store.list():
        if parse_key(key) is not None and key not in known and key not in pending:
            report.extra.append(key)
    return report
