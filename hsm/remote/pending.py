"""Pending state of app-confirmed remote signatures: the values, the store protocol,
and :class:`FilePendingStore` (the embedded default; the database store is
``api.remote.pending_db.DbPendingStore``, used on PostgreSQL).

Everything needed to finish a document after a restart is in a
:class:`PendingTransaction`: the prepared PDF, the byte-range digest and reserved
region, the CMS signed attributes whose hash the provider signs, the certificate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "AppConfirmedProvider", "DocumentToSign", "FilePendingStore", "Outcome", "PendingDocument", "PendingStore",
    "PendingTransaction", "ProviderResult", "Status", "transaction_from_dict",
]

Status = Literal["pending", "confirmed", "rejected", "expired", "completed"]


@dataclass(frozen=True)
class DocumentToSign:
    doc_id: str
    pdf: bytes
    field_name: str
    reason: str = ""
    location: str = ""
    certify: bool = False
    """The first signature of a form certifies it (DocMDP: form filling and further
    signatures allowed), as ``signer.request.SignRequest.certify``."""


@dataclass(frozen=True)
class PendingDocument:
    """One prepared document awaiting its signature value (all bytes as base64)."""

    doc_id: str
    prepared_pdf_b64: str
    """The document in its final pre-signing state (placeholder reserved)."""
    document_digest_hex: str
    region_start: int
    region_end: int
    signed_attrs_b64: str
    """DER of the CMS signed attributes whose SHA-256 the provider signs."""
    data_to_be_signed: str
    """Hex SHA-256 of the signed attributes, as sent to the provider."""


@dataclass(frozen=True)
class PendingTransaction:
    transaction_id: str
    user_id: str
    cert_b64: str
    chain_b64: tuple[str, ...]
    sign_algo: str
    """``sha256_rsa`` (what the providers return) or ``sha256_ecdsa``."""
    created_at: str
    expires_at: str
    documents: tuple[PendingDocument, ...]
    tran_code: str = ""
    status: Status = "pending"
    signed_b64: dict[str, str] = field(default_factory=dict)
    """doc_id → signed PDF, once completed (kept so a crash after completion loses
    nothing)."""
    owner: str = ""
    """Who asked, as the caller records it (the API: ``tenant/account``); only the
    owner may read the transaction's state and signed documents."""
    context: dict[str, Any] = field(default_factory=dict)
    """The caller's own data, kept with the transaction (the workflow keeps here, per
    workflow document, what was checked when the signature was asked for)."""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    """doc_id → what the caller did with the signed document after settlement (the
    workflow: archived as version n, or refused with a reason); written with
    :meth:`PendingStore.record_result`."""
    settled_at: str = ""
    """When the transaction left ``pending`` (ISO 8601, UTC)."""


@dataclass(frozen=True)
class ProviderResult:
    status: Status
    signatures: dict[str, bytes] = field(default_factory=dict)
    """doc_id → raw signature value."""


@dataclass(frozen=True)
class Outcome:
    transaction_id: str
    status: Status
    signed: dict[str, bytes]
    """doc_id → signed PDF (only when ``completed``)."""
    message_vi: str
    message_en: str
    sign_algo: str = ""
    settled_now: bool = False
    """True only for the call that moved the transaction out of ``pending`` (a webhook
    and the polling job racing: exactly one of them sees True)."""


class AppConfirmedProvider(Protocol):
    """What :class:`~hsm.remote.async_provider.AppConfirmedSigning` needs from a provider
    (``SmartCaClient``, ``MySignClient``)."""

    async def get_certificate(self, user_id: str) -> tuple[Any, list[Any]]:
        """The subscriber's certificate and its issuers (asn1crypto)."""
        ...

    async def sign(self, user_id: str, transaction_id: str,
                   files: Sequence[tuple[str, str]]) -> str:
        """Ask for one confirmation covering ``(doc_id, hex SHA-256)`` pairs; the
        provider's code for the request."""
        ...

    async def status(self, tran_code: str, *, user_id: str = "") -> ProviderResult:
        """The request's state; ``user_id`` for providers that authenticate per
        subscriber."""
        ...


class PendingStore(Protocol):
    def save(self, tx: PendingTransaction) -> None: ...
    def load(self, transaction_id: str) -> PendingTransaction | None: ...
    def pending(self) -> list[PendingTransaction]: ...
    def settle(self, tx: PendingTransaction) -> bool:
        """Save ``tx`` (a final state) only if the stored one is still ``pending``;
        False, nothing written, if another process settled it first."""
        ...

    def record_result(self, transaction_id: str, doc_id: str, result: dict[str, Any]) -> None:
        """Merge ``result`` as ``results[doc_id]`` into the stored transaction (atomic
        read-modify-write: concurrent writers of other documents lose nothing)."""
        ...

    def completed_since(self, since: datetime) -> list[PendingTransaction]:
        """Transactions ``completed`` and created at or after ``since`` (the caller's
        repair pass looks for documents without a result among them)."""
        ...


def transaction_from_dict(raw: dict[str, Any]) -> PendingTransaction:
    """The inverse of ``dataclasses.asdict`` for a stored transaction."""
    raw = dict(raw)
    raw["documents"] = tuple(PendingDocument(**d) for d in raw["documents"])
    raw["chain_b64"] = tuple(raw["chain_b64"])
    return PendingTransaction(**raw)


class FilePendingStore:
    """One JSON file per transaction, replaced atomically (write, fsync, rename)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, transaction_id: str) -> Path:
        if not transaction_id.replace("-", "").isalnum():
            raise ValueError("bad transaction id")
        return self.dir / f"{transaction_id}.json"

    def save(self, tx: PendingTransaction) -> None:
        path = self._path(tx.transaction_id)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(tx), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def load(self, transaction_id: str) -> PendingTransaction | None:
        path = self._path(transaction_id)
        if not path.is_file():
            return None
        return transaction_from_dict(json.loads(path.read_text("utf-8")))

    def settle(self, tx: PendingTransaction) -> bool:
        import fcntl

        with open(self.dir / ".settle.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # across processes sharing the directory
            current = self.load(tx.transaction_id)
            if current is None or current.status != "pending":
                return False
            self.save(tx)
            return True

    def record_result(self, transaction_id: str, doc_id: str, result: dict[str, Any]) -> None:
        import fcntl

        with open(self.dir / ".settle.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.load(transaction_id)
            if current is None:
                raise ValueError("unknown transaction")
            self.save(replace(current, results={**current.results, doc_id: result}))

    def _all(self) -> list[PendingTransaction]:
        out = []
        for p in sorted(self.dir.glob("*.json")):
            tx = self.load(p.stem)
            if tx is not None:
                out.append(tx)
        return out

    def pending(self) -> list[PendingTransaction]:
        return [tx for tx in self._all() if tx.status == "pending"]

    def completed_since(self, since: datetime) -> list[PendingTransaction]:
        return [tx for tx in self._all() if tx.status == "completed"
                and datetime.fromisoformat(tx.created_at) >= since]
