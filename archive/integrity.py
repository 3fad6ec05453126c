"""Integrity sweep: re-hash stored objects against the records index.

On a versioned store (S3) every indexed key must hold exactly one version, the
locked one whose id the index recorded at ingest. Anybody with put rights can
add a newer version (or a delete marker) on top of a locked object: the
original stays and reads pin it, but the sweep reports the key as
``overwritten`` so the attempt is seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from archive.index import RecordsIndex, VersionInfo
from archive.keys import parse_key
from archive.store import ObjectStore
from core.errors import ArchiveError


@dataclass
class IntegrityReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    """In the index, not in the store (or the indexed version is gone)."""
    mismatched: list[str] = field(default_factory=list)
    """In both, content does not match its sha256."""
    extra: list[str] = field(default_factory=list)
    """Document objects in the store the index does not know (pending intents excluded)."""
    overwritten: list[str] = field(default_factory=list)
    """Keys holding a version other than the indexed locked one (a newer put at the
    write-once key, or a delete marker): the newest version differs from the index."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatched or self.extra or self.overwritten)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def _check_version(store: ObjectStore, v: VersionInfo, rehash: bool,
                   report: IntegrityReport) -> None:
    key = v.object_key
    versions = store.versions(key)
    stored = [x.version_id for x in versions if not x.delete_marker]
    if not versions:  # an unversioned store, or nothing at this key
        if not store.exists(key):
            report.missing.append(key)
            return
    elif not stored or (v.version_id is not None and v.version_id not in stored):
        report.missing.append(key)
        return
    elif len(versions) > 1 or (v.version_id is not None and versions[-1].version_id
                               != v.version_id):
        report.overwritten.append(key)
    if rehash:
        try:
            store.get(key, v.version_id)  # sha256 checked against key and metadata
        except ArchiveError:
            report.mismatched.append(key)


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
            _check_version(store, v, rehash, report)
    pending = pending_keys or set()
    for key in store.list():
        if parse_key(key) is not None and key not in known and key not in pending:
            report.extra.append(key)
    return report
