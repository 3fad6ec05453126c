"""Ingest step 3: register stored versions in the records index, with their audit events.

Runs in the caller's transaction, with a fixed number of statements per batch
whatever its size: bulk INSERTs (``executemany``, no RETURNING, so PostgreSQL
gets one prepared statement per table) for new documents, versions,
signatures, signer-index rows and audit events. The ORM is used only for a
document that already exists, so its ``row_version`` (the optimistic lock the
workflow relies on) is checked and raised as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archive.audit import AuditChain, AuditRecord
from archive.models import (
    Document,
    DocumentSigner,
    DocumentVersion,
    PendingIngest,
    Signature,
    Tenant,
)
from archive.retention import retain_until, today_utc

# Document fields taken from each version's metadata (a later version's None keeps the value).
_META_FIELDS = ("patient_ref", "patient_cccd", "patient_bhyt", "encounter_ref", "form_code",
                "form_version", "department", "status", "closed_year", "policy_version")


@dataclass(frozen=True)
class Intent:
    """A version about to be stored: a row of ``pending_ingests`` (the outbox)."""

    id: str
    document_id: str
    n: int
    tenant_id: str
    object_key: str
    sha256: str
    size: int
    payload: dict[str, Any]
    """Everything step 3 needs (metadata, signatures, actor), so reconcile can finish it."""
    created_at: datetime
    fresh: bool = False
    """Recorded by this call (its key cannot exist yet), not left by an earlier attempt."""

    @classmethod
    def of(cls, row: PendingIngest) -> Intent:
        return cls(row.id, row.document_id, row.n, row.tenant_id, row.object_key, row.sha256,
                   row.size, row.payload, row.created_at)

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "document_id": self.document_id, "n": self.n,
                "tenant_id": self.tenant_id, "object_key": self.object_key,
                "sha256": self.sha256, "size": self.size, "state": "intent",
                "payload": self.payload, "created_at": self.created_at}


@dataclass(frozen=True)
class Registered:
    intent: Intent
    n: int
    duplicate: bool
    version_id: str | None


def retain_date(meta: dict[str, Any]) -> date | None:
    """Retention end of a document from its metadata (open case: counted from this year)."""
    year = meta.get("closed_year") or today_utc().year
    return retain_until(meta["retention_class"], int(year))


def _insert_ignoring_duplicates(s: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING (rows another transaction or batch already added)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    s.execute(dialect.insert(model).on_conflict_do_nothing(), rows)


def _new_document(p: Intent, meta: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {name: meta.get(name) for name in _META_FIELDS}
    row.update(id=p.document_id, tenant_id=meta["tenant_id"], key_year=now.year,
               key_month=now.month, current_version=0, legal_hold=False,
               retention_class=meta["retention_class"], retain_until=retain_date(meta),
               last_timestamp_expiry=None, created_at=now, updated_at=now, row_version=1)
    return row


def register_versions(s: Session, audit: AuditChain, batch: Sequence[Intent],
                      version_ids: Mapping[str, str | None]
                      | Callable[[], Mapping[str, str | None]], *,
                      known_tenants: set[str], check_existing: bool = True
                      ) -> list[Registered]:
    """Index rows and audit events for intents whose objects are stored.

    ``version_ids`` (the store's version id by intent id) may be a callable: it is
    called once, after the document rows are written and before the version rows, so
    the caller's object puts can still be on their way while the rest is prepared
    (``archive.ingest``); it raises if a put failed, and nothing is then registered.

    The caller removes the intents' ``pending_ingests`` rows in the same
    transaction. ``check_existing=False`` when the caller has just deleted live
    intent rows (a version row and its intent's removal commit together, so none
    of them can be registered yet). ``known_tenants``: tenant ids seen committed
    (read and extended here; tenants are never removed).
    """
    out: list[Registered] = []
    existing: dict[str, tuple[int, str | None]] = {}
    if check_existing:
        existing = {key: (n, vid) for key, n, vid in s.execute(
            select(DocumentVersion.object_key, DocumentVersion.n, DocumentVersion.version_id)
            .where(DocumentVersion.object_key.in_([p.object_key for p in batch]))).tuples()}
    now = datetime.now(UTC)
    wanted = {p.payload["meta"]["tenant_id"] for p in batch} - known_tenants
    if wanted:
        found = set(s.execute(select(Tenant.id).where(Tenant.id.in_(wanted))).scalars())
        known_tenants |= found  # committed rows: safe to remember
        names = {p.payload["meta"]["tenant_id"]: p.payload["meta"].get("tenant_name")
                 for p in batch}
        new = sorted(wanted - found)
        if new:
            _insert_ignoring_duplicates(s, Tenant, [{"id": t, "name": names[t] or t,
                                                     "created_at": now} for t in new])
    docs = {d.id: d for d in s.execute(select(Document).where(
        Document.id.in_(sorted({p.document_id for p in batch})))).scalars()}
    new_docs: dict[str, dict[str, Any]] = {}
    versions: list[dict[str, Any]] = []
    signatures: list[dict[str, Any]] = []
    signers: dict[tuple[str, str], dict[str, Any]] = {}
    audits: list[AuditRecord] = []
    for p in batch:
        done = existing.get(p.object_key)
        if done is not None:
            out.append(Registered(p, done[0], True, done[1]))
            continue
        pl = p.payload
        meta = pl["meta"]
        ts_exp = (datetime.fromisoformat(pl["last_timestamp_expiry"])
                  if pl.get("last_timestamp_expiry") else None)
        doc = docs.get(p.document_id)
        row = new_docs.get(p.document_id)
        created = doc is None and row is None
        if doc is not None:
            for name in _META_FIELDS:
                if meta.get(name) is not None:
                    setattr(doc, name, meta[name])
            doc.current_version = max(doc.current_version, p.n)
            if ts_exp is not None and p.n >= doc.current_version:
                doc.last_timestamp_expiry = ts_exp
            tenant, doc_created = doc.tenant_id, doc.created_at
        else:
            if row is None:
                row = new_docs[p.document_id] = _new_document(p, meta, now)
            else:
                row.update({k: meta[k] for k in _META_FIELDS if meta.get(k) is not None})
            row["current_version"] = max(row["current_version"], p.n)
            if ts_exp is not None and p.n >= row["current_version"]:
                row["last_timestamp_expiry"] = ts_exp
            tenant, doc_created = row["tenant_id"], row["created_at"]
        versions.append({
            "document_id": p.document_id, "n": p.n, "media": pl.get("media", "pdf"),
            "sha256": p.sha256, "object_key": p.object_key, "version_id": p.id,
            "size": p.size, "reason": pl["reason"], "last_timestamp_expiry": ts_exp,
            "created_at": now})  # version_id: the intent's id until the store's is known
        for sig in pl["signatures"]:
            signatures.append({
                "document_id": p.document_id, "version_n": p.n, "field": sig["field"],
                "role": sig["role"], "signer_subject": sig["signer_subject"],
                "practitioner_id": sig.get("practitioner_id"), "method": sig["method"],
                "level": sig["level"], "signed_at": datetime.fromisoformat(sig["signed_at"]),
                "policy_version": sig.get("policy_version")})
            for value in (sig.get("practitioner_id"), sig["signer_subject"]):
                if value:
                    signers.setdefault((p.document_id, value), {
                        "tenant_id": tenant, "signer": value, "created_at": doc_created,
                        "document_id": p.document_id})
        audits.append(AuditRecord(
            actor_id=pl["actor_id"], action="create" if created else "archive",
            object_id=p.document_id, tenant_id=meta["tenant_id"],
            details={"version": p.n, "sha256": p.sha256, "object_key": p.object_key,
                     "reason": pl["reason"], "form_code": meta["form_code"]}))
        out.append(Registered(p, p.n, False, None))
    if new_docs:
        s.execute(insert(Document), list(new_docs.values()))
    s.flush()  # updates of existing documents (row_version checked) before their rows
    stored = version_ids() if callable(version_ids) else version_ids  # objects stored now
    for row in versions:
        row["version_id"] = stored.get(row["version_id"])
    out = [r if r.duplicate else Registered(r.intent, r.n, False, stored.get(r.intent.id))
           for r in out]
    if versions:
        s.execute(insert(DocumentVersion), versions)
    if signatures:
        s.execute(insert(Signature), signatures)
    if signers:
        _insert_ignoring_duplicates(s, DocumentSigner, list(signers.values()))
    if audits:
        audit.append_many(audits, session=s)
    return out
