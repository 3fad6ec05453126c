"""Long-term validity: which archived documents need a new document timestamp.

The index keeps, per document, the expiry of the certificate of the last
timestamp (recorded at ingest). The workflow calls the signer's
``retimestamp`` for each document listed here and archives the result as a new
version (reason ``retimestamp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Document


@dataclass(frozen=True)
class RenewalDue:
    document_id: str
    tenant_id: str
    current_version: int
    last_timestamp_expiry: datetime


def due_for_renewal(session: Session, margin_days: int, *, now: datetime | None = None,
                    limit: int = 1000) -> list[RenewalDue]:
    """Documents whose last timestamp certificate expires within ``margin_days``."""
    horizon = (now or datetime.now(UTC)) + timedelta(days=margin_days)
    rows = session.execute(
        select(Document).where(Document.last_timestamp_expiry.is_not(None),
                               Document.last_timestamp_expiry <= horizon,
                               Document.status != "destroyed")
        .order_by(Document.last_timestamp_expiry).limit(limit)).scalars()
    return [RenewalDue(d.id, d.tenant_id, d.current_version, d.last_timestamp_expiry)
            for d in rows if d.last_timestamp_expiry is not None]
