"""A second copy of every object (off-site backup, CV 365/TTYQG-GPQLCL).

:class:`ReplicatedStore` writes each object to the primary, then to the
replica, and reads the replica back to verify it before acknowledging.
:func:`restore` rebuilds a (new or damaged) primary from the replica.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from archive.store import ObjectStore, ObjectVersion, StoredObject, check_content
from core.errors import ArchiveError

log = logging.getLogger(__name__)


class ReplicatedStore:
    """Primary + replica; a put is acknowledged once both hold verified copies."""

    def __init__(self, primary: ObjectStore, replica: ObjectStore) -> None:
        self.primary = primary
        self.replica = replica
        self.name = f"{primary.name}+{replica.name}"

    def put(
        self, key: str, data: bytes, *, retain_until: date | None = None,
        legal_hold: bool = False, check_exists: bool = True,
    ) -> StoredObject:
        if self.primary.exists(key) and self.replica.exists(key):
            # Write-once on both: let the primary refuse it in its own words.
            return self.primary.put(key, data, retain_until=retain_until, legal_hold=legal_hold)
        stored = (self.primary.stat(key) if self.primary.exists(key) else
                  self.primary.put(key, data, retain_until=retain_until, legal_hold=legal_hold))
        check_content(key, data, stored.sha256 or None)
        if not self.replica.exists(key):
            self.replica.put(key, data, retain_until=retain_until, legal_hold=legal_hold)
        check_content(key, self.replica.get(key), stored.sha256 or None)
        return stored

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """``version_id`` is the primary's; the replica serves its own original version."""
        try:
            return self.primary.get(key, version_id)
        except ArchiveError as e:
            log.warning("primary read of %s failed (%s); reading the replica", key, e.code)
            return self.replica.get(key)

    def exists(self, key: str) -> bool:
        return self.primary.exists(key)

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        return self.primary.stat(key, version_id)

    def versions(self, key: str) -> list[ObjectVersion]:
        return self.primary.versions(key)

    def delete(self, key: str, version_id: str | None = None) -> None:
        self.primary.delete(key, version_id)
        if self.replica.exists(key):
            self.replica.delete(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.primary.list(prefix)

    def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None:
        self.primary.set_legal_hold(key, on, version_id)
        self.replica.set_legal_hold(key, on)

    def extend_retention(self, key: str, retain_until: date,
                         version_id: str | None = None) -> None:
        self.primary.extend_retention(key, retain_until, version_id)
        self.replica.extend_retention(key, retain_until)


@dataclass
class RestoreReport:
    copied: list[str] = field(default_factory=list)
    already_present: int = 0
    damaged_in_primary: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"copied": len(self.copied), "already_present": self.already_present,
                "damaged_in_primary": self.damaged_in_primary, "failed": self.failed}


def restore(primary: ObjectStore, replica: ObjectStore, prefix: str = "") -> RestoreReport:
    """Copy to ``primary`` every replica object it lacks, with its lock and hold.

    Objects present in the primary but unreadable (checksum mismatch) cannot be
    overwritten on a WORM store: they are listed in ``damaged_in_primary``.
    """
    report = RestoreReport()
    for key in replica.list(prefix):
        try:
            if primary.exists(key):
                try:
                    primary.get(key)
                    report.already_present += 1
                except ArchiveError:
                    report.damaged_in_primary.append(key)
                continue
            data = replica.get(key)
            meta = replica.stat(key)
            primary.put(key, data, retain_until=meta.retain_until, legal_hold=meta.legal_hold)
            report.copied.append(key)
        except ArchiveError as e:
            log.error("restore of %s failed: %s", key, e.code)
            report.failed.append(key)
    return report
