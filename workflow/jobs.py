"""Background jobs: re-time-stamping before the last time-stamp expires, audit-chain
checkpoints (time-stamped, WORM), and the archive integrity sweep.

Each job is a plain function of :class:`~workflow.services.Services` returning a
JSON-able summary, so the same code runs from the in-process scheduler
(embedded default), from ``hsba worker --once`` and, on PostgreSQL, from the
durable queue (``workflow.scheduler.DurableQueue``) that ``hsba worker`` runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSettings:
    renewal_margin_days: int = 180
    """Add a document time-stamp this long before the last one's certificate expires."""
    checkpoint_every_s: float = 3600.0
    sweep_every_s: float = 86400.0
    renewal_every_s: float = 3600.0
    renewal_batch: int = 200


def renew_timestamps(services: Any, *, margin_days: int = 180, limit: int = 200,
                     now: datetime | None = None) -> dict[str, Any]:
    """Archive a new version, with a fresh document time-stamp, of every document whose
    last time-stamp certificate expires within ``margin_days`` (PAdES B-LTA renewal)."""
    from sqlalchemy.orm import Session

    from archive.ingest import DocumentMeta, IngestItem
    from archive.renewal import due_for_renewal
    from signer.ltv import async_retimestamp
    from signer.timestamp_info import last_timestamp_expiry

    with Session(services.engine) as s:
        due = due_for_renewal(s, margin_days, now=now, limit=limit)
    renewed, failed = [], []
    for item in due:
        try:
            versions = [v for v in services.index.versions(item.document_id) if v.media == "pdf"]
            current = max(versions, key=lambda v: v.n)
            pdf = bytes(services.store.get(current.object_key, version_id=current.version_id))
            new_pdf = asyncio.run(async_retimestamp(
                pdf, timestampers=services.timestampers(), revocation=services.revocation()))
            info = services.index.get(item.document_id)
            receipt = services.archiver.archive_document(IngestItem(
                document_id=item.document_id, data=new_pdf, actor_id="system:renewal",
                reason="retimestamp",
                last_timestamp_expiry=last_timestamp_expiry(new_pdf),
                meta=DocumentMeta(tenant_id=info.tenant_id, form_code=info.form_code,
                                  form_version=info.form_version, status=info.status,
                                  retention_class=info.retention_class,
                                  closed_year=info.closed_year)))
            renewed.append({"document_id": item.document_id, "version": receipt.version})
        except Exception as e:  # noqa: BLE001 - one document must not stop the others
            log.error("renewal failed document=%s error=%s", item.document_id, type(e).__name__)
            failed.append({"document_id": item.document_id, "error": type(e).__name__})
    return {"job": "renew_timestamps", "due": len(due), "renewed": renewed, "failed": failed}


def audit_checkpoint(services: Any) -> dict[str, Any]:
    """Write the audit chain's head as a WORM object, time-stamped (RFC 3161)."""
    from signer.timestamp_info import timestamp_token

    timestampers = services.timestampers()

    def stamp(digest: bytes) -> bytes:
        return asyncio.run(timestamp_token(digest, timestampers))

    cp = services.audit.checkpoint(services.store, stamp if timestampers else None)
    if cp is None:
        return {"job": "audit_checkpoint", "seq": 0}
    return {"job": "audit_checkpoint", "seq": cp.seq, "object_key": cp.object_key,
            "timestamped": cp.timestamp_token is not None}


def integrity_sweep(services: Any, *, rehash: bool = True,
                    requested_by: str = "schedule") -> dict[str, Any]:
    """Re-hash stored objects against the index; record the result in the audit chain
    (``requested_by``: the schedule, or who asked for this sweep)."""
    from archive.audit import AuditRecord
    from archive.integrity import check_archive

    report = check_archive(services.index, services.store, rehash=rehash)
    services.audit.append(AuditRecord(
        actor_id="system:integrity", action="verify", object_id="archive",
        details={"checked": report.checked, "missing": len(report.missing),
                 "mismatched": len(report.mismatched), "extra": len(report.extra),
                 "requested_by": requested_by}))
    if not report.ok:
        log.error("integrity sweep found problems missing=%d mismatched=%d extra=%d",
                  len(report.missing), len(report.mismatched), len(report.extra))
    return {"job": "integrity_sweep", **report.to_dict()}


def run_all_once(services: Any, settings: JobSettings | None = None) -> list[dict[str, Any]]:
    settings = settings or JobSettings()
    return [
        exclusive(services, "renew_timestamps", lambda: renew_timestamps(
            services, margin_days=settings.renewal_margin_days, limit=settings.renewal_batch)),
        exclusive(services, "audit_checkpoint", lambda: audit_checkpoint(services)),
        exclusive(services, "integrity_sweep", lambda: integrity_sweep(services)),
    ]


def register_periodic_jobs(services: Any, settings: JobSettings | None = None) -> None:
    """Add the jobs to the in-process scheduler, each at its own interval."""
    settings = settings or JobSettings()
    last: dict[str, datetime] = {}

    def every(name: str, seconds: float, fn: Any) -> Any:
        def tick() -> object:
            now = datetime.now(UTC)
            if name in last and now - last[name] < timedelta(seconds=seconds):
                return None
            last[name] = now
            return exclusive(services, name, fn)
        return tick

    services.scheduler.add("renew_timestamps", every(
        "renew", settings.renewal_every_s,
        lambda: renew_timestamps(services, margin_days=settings.renewal_margin_days,
                                 limit=settings.renewal_batch)))
    services.scheduler.add("audit_checkpoint", every(
        "checkpoint", settings.checkpoint_every_s, lambda: audit_checkpoint(services)))
    services.scheduler.add("integrity_sweep", every(
        "sweep", settings.sweep_every_s, lambda: integrity_sweep(services)))


def exclusive(services: Any, name: str, fn: Any, *, wait: bool = False) -> Any:
    """Run ``fn`` only if no other worker runs job ``name`` now (PostgreSQL advisory lock;
    the embedded SQLite default has one process, so it just runs). ``wait``: wait for the
    other run to finish instead of skipping (a job somebody asked for must run)."""
    import zlib

    from sqlalchemy import text

    if services.engine.dialect.name != "postgresql":
        return fn()
    key = zlib.crc32(f"hsba-job:{name}".encode())
    with services.engine.connect() as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        elif not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            return {"job": name, "skipped": "running in another worker"}
        conn.commit()  # no transaction stays open while the job runs
        try:
            return fn()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
