"""App-confirmed asynchronous remote signing (the VNPT SmartCA / Viettel MySign shape).

The provider holds the signer's key and signs only a hash, after the signer
confirms in the provider's phone app. hsba uses pyHanko's interrupted signing:

1. :meth:`AppConfirmedSigning.request`: for each document, ``PdfSigner.
   async_digest_doc_for_signing`` prepares the signature placeholder, the CMS
   signed attributes are built (``ExternalSigner.signed_attrs``) and their
   SHA-256 is sent (hex ``data_to_be_signed``, ``sign_type: "hash"``) — several
   documents in ONE transaction, one confirmation. The pending state (prepared
   PDF bytes, byte-range digest and reserved region, signed attributes,
   certificate, provider ``tran_code``) is written to a :class:`PendingStore`
   BEFORE the provider is called, so a restart loses nothing.
2. :meth:`AppConfirmedSigning.complete` (polling) or :meth:`on_callback`
   (webhook) reads the result: ``confirmed`` → each signature value goes into the
   CMS (``async_sign_prescribed_attributes``) and the PDF is finished
   (``PdfTBSDocument.async_finish_signing``); ``rejected`` or ``expired`` (also
   when hsba's own deadline has passed) → the documents stay unsigned and the
   outcome says so in Vietnamese and English.

The algorithm actually used is recorded: these providers return RSA PKCS#1 v1.5
(``sha256_rsa``), not the RSASSA-PSS TT 15/2025 prefers.

:class:`~hsm.remote.smartca.SmartCaClient` speaks the SmartCA gateway's published
request and response fields. Persistence (:mod:`hsm.remote.pending`):
:class:`FilePendingStore` (one JSON file per transaction, the embedded default) or
``api.remote.pending_db.DbPendingStore`` (the index database, on PostgreSQL); both
implement :class:`PendingStore` (``hsm/`` does not use SQLAlchemy).

The background job is in :mod:`hsm.remote.polling` (``poll_provider``,
``PollingJob``); webhook notifications arrive through ``api.routes.provider_callbacks``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from asn1crypto import algos, cms, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.errors import KeyCustodyError
from hsm.remote.pending import (
    AppConfirmedProvider,
    DocumentToSign,
    FilePendingStore,
    Outcome,
    PendingDocument,
    PendingStore,
    PendingTransaction,
    ProviderResult,
    Status,
)
from hsm.remote.smartca import SmartCaClient, parse_result, provider_error

__all__ = [
    "AppConfirmedSigning", "DocumentToSign", "FilePendingStore", "Outcome", "PendingDocument",
    "PendingStore", "PendingTransaction", "ProviderResult", "SmartCaClient",
]

BYTES_RESERVED = 32768
"""Hex characters reserved for the CMS (room for the chain and a signature timestamp)."""


_MESSAGES: dict[str, tuple[str, str]] = {
    "pending": ("Đang chờ người ký xác nhận trên ứng dụng.",
                "Waiting for the signer to confirm in the app."),
    "completed": ("Đã ký xong các tài liệu.", "The documents are signed."),
    "rejected": ("Người ký đã từ chối trên ứng dụng: tài liệu KHÔNG được ký.",
                 "The signer rejected the request in the app: the documents are NOT signed."),
    "expired": ("Hết thời gian chờ xác nhận: tài liệu KHÔNG được ký.",
                "The confirmation timed out: the documents are NOT signed."),
}


class AppConfirmedSigning:
    """Interrupted PAdES signing with an app-confirmed provider (see the module docstring)."""

    def __init__(self, client: AppConfirmedProvider, store: PendingStore, *,
                 timeout: timedelta = timedelta(minutes=5),
                 timestamper: TimeStamper | None = None) -> None:
        self.client = client
        self.store = store
        self.timeout = timeout
        self.timestamper = timestamper
        """With a TSA the signatures get a signature timestamp when they complete
        (PAdES B-T; ``signer.ltv.extend_to_lta`` takes them to B-LTA)."""

    async def certificate(self, user_id: str) -> tuple[x509.Certificate, list[x509.Certificate]]:
        """The subscriber's certificate and its issuers, as the provider gives them (a
        caller checks the key against its policy before asking for a signature)."""
        return await self.client.get_certificate(user_id)  # type: ignore[no-any-return]

    async def request(self, user_id: str, documents: Sequence[DocumentToSign],
                      *, signer_name: str = "", owner: str = "",
                      certificate: tuple[x509.Certificate, Sequence[x509.Certificate]]
                      | None = None, context: dict[str, Any] | None = None,
                      ) -> PendingTransaction:
        """Prepare every document, persist, then send ONE hash-only request.

        ``owner``: who asked (kept with the transaction, see ``PendingTransaction.owner``);
        ``certificate``: what :meth:`certificate` returned, when the caller already
        asked; ``context``: the caller's data kept with the transaction."""
        cert, chain = certificate if certificate is not None else \
            await self.client.get_certificate(user_id)
        sign_algo = "sha256_ecdsa" if cert.public_key.algorithm == "ec" else "sha256_rsa"
        ext = self._external(cert, chain, sign_algo, None)
        prepared = []
        for doc in documents:
            meta = signers.PdfSignatureMetadata(
                field_name=doc.field_name, md_algorithm="sha256", reason=doc.reason or None,
                location=doc.location or None, name=signer_name or None,
                subfilter=SigSeedSubFilter.PADES, certify=doc.certify,
                docmdp_permissions=MDPPerm.FILL_FORMS)
            pdf_signer = signers.PdfSigner(meta, signer=ext)
            digest, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
                IncrementalPdfFileWriter(BytesIO(doc.pdf)), bytes_reserved=BYTES_RESERVED)
            attrs = await ext.signed_attrs(digest.document_digest, "sha256", use_pades=True)
            der = attrs.dump()
            output.seek(0)
            prepared.append(PendingDocument(
                doc_id=doc.doc_id, prepared_pdf_b64=base64.b64encode(output.read()).decode(),
                document_digest_hex=digest.document_digest.hex(),
                region_start=digest.reserved_region_start, region_end=digest.reserved_region_end,
                signed_attrs_b64=base64.b64encode(der).decode(),
                data_to_be_signed=hashlib.sha256(der).hexdigest()))
        now = datetime.now(UTC)
        tx = PendingTransaction(
            transaction_id=uuid.uuid4().hex, user_id=user_id,
            cert_b64=base64.b64encode(cert.dump()).decode(),
            chain_b64=tuple(base64.b64encode(c.dump()).decode() for c in chain),
            sign_algo=sign_algo, created_at=now.isoformat(),
            expires_at=(now + self.timeout).isoformat(), documents=tuple(prepared), owner=owner,
            context=dict(context or {}))
        self.store.save(tx)  # before the provider is asked: a crash loses nothing
        tran_code = await self.client.sign(
            user_id, tx.transaction_id, [(d.doc_id, d.data_to_be_signed) for d in prepared])
        tx = replace(tx, tran_code=tran_code)
        self.store.save(tx)
        return tx

    @staticmethod
    def _external(cert: x509.Certificate, chain: Sequence[x509.Certificate], sign_algo: str,
                  value: bytes | None) -> signers.ExternalSigner:
        registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        registry.register_multiple([cert, *chain])
        return signers.ExternalSigner(
            cert, registry, signature_value=value if value is not None else 512,
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": sign_algo}))

    def _load(self, transaction_id: str) -> PendingTransaction:
        tx = self.store.load(transaction_id)
        if tx is None:
            raise KeyCustodyError("remote.unknown_transaction",
                                  "Không tìm thấy giao dịch ký từ xa.",
                                  "Unknown remote signing transaction.",
                                  details={"transaction_id": transaction_id})
        return tx

    async def complete(self, transaction_id: str) -> Outcome:
        """Poll the provider once and act on the answer (see :meth:`apply`)."""
        tx = self._load(transaction_id)
        if tx.status != "pending":
            return self.outcome(tx)
        return await self.apply(transaction_id, await self.client.status(
            tx.tran_code, user_id=tx.user_id))

    async def poll_pending(self, older_than: timedelta = timedelta(0)) -> list[Outcome]:
        """Poll once every transaction pending for longer than ``older_than`` (the
        background job; also what a restarted process runs to pick up confirmations
        that arrived while it was down). A provider error on one transaction does not
        stop the others."""
        outcomes = []
        cutoff = datetime.now(UTC) - older_than
        for tx in self.store.pending():
            if datetime.fromisoformat(tx.created_at) > cutoff:
                continue
            try:
                outcomes.append(await self.complete(tx.transaction_id))
            except KeyCustodyError:
                continue
        return outcomes

    async def on_callback(self, payload: dict[str, Any]) -> Outcome:
        """A webhook notification (same shape as the status answer)."""
        body = payload.get("data") or {}
        return await self.apply(str(body.get("transaction_id", "")), parse_result(payload))

    async def apply(self, transaction_id: str, result: ProviderResult) -> Outcome:
        """Act on the provider's answer. A final state is written with
        :meth:`PendingStore.settle`: if another process settled the transaction first,
        its outcome is returned (``settled_now`` False) and nothing is written."""
        tx = self._load(transaction_id)
        if tx.status != "pending":
            return self.outcome(tx)
        status: Status = result.status
        if status == "pending" and datetime.fromisoformat(tx.expires_at) < datetime.now(UTC):
            status = "expired"
        if status == "pending":
            return self.outcome(tx)
        if status in ("rejected", "expired"):
            return self._settle(replace(tx, status=status))
        missing = [d.doc_id for d in tx.documents if d.doc_id not in result.signatures]
        if missing:
            raise provider_error("status", f"no signature for {len(missing)} document(s)")
        cert = x509.Certificate.load(base64.b64decode(tx.cert_b64))
        chain = [x509.Certificate.load(base64.b64decode(c)) for c in tx.chain_b64]
        attrs = {d.doc_id: cms.CMSAttributes.load(base64.b64decode(d.signed_attrs_b64))
                 for d in tx.documents}
        for doc in tx.documents:  # every value checked before any document is finished
            self._check(cert, attrs[doc.doc_id], tx.sign_algo, result.signatures[doc.doc_id])
        signed: dict[str, bytes] = {}
        for doc in tx.documents:
            ext = self._external(cert, chain, tx.sign_algo, result.signatures[doc.doc_id])
            sig_cms = await ext.async_sign_prescribed_attributes(
                "sha256", signed_attrs=attrs[doc.doc_id], timestamper=self.timestamper)
            output = BytesIO(base64.b64decode(doc.prepared_pdf_b64))
            digest = PreparedByteRangeDigest(bytes.fromhex(doc.document_digest_hex),
                                             doc.region_start, doc.region_end)
            await PdfTBSDocument.async_finish_signing(output, digest, sig_cms)
            signed[doc.doc_id] = output.getvalue()
        return self._settle(replace(
            tx, status="completed",
            signed_b64={k: base64.b64encode(v).decode() for k, v in signed.items()}))

    def _settle(self, tx: PendingTransaction) -> Outcome:
        tx = replace(tx, settled_at=datetime.now(UTC).isoformat())
        if self.store.settle(tx):
            return replace(self.outcome(tx), settled_now=True)
        return self.outcome(self._load(tx.transaction_id))

    @staticmethod
    def _check(cert: x509.Certificate, attrs: cms.CMSAttributes, sign_algo: str,
               value: bytes) -> None:
        """Refuse a signature value that does not verify (a provider fault or a forgery)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        key = load_der_public_key(cert.public_key.dump())
        try:
            if isinstance(key, rsa.RSAPublicKey) and sign_algo == "sha256_rsa":
                key.verify(value, attrs.dump(), padding.PKCS1v15(), SHA256())
            elif isinstance(key, ec.EllipticCurvePublicKey) and sign_algo == "sha256_ecdsa":
                key.verify(value, attrs.dump(), ec.ECDSA(SHA256()))
            else:
                raise InvalidSignature
        except (InvalidSignature, ValueError) as e:
            raise provider_error("status", "signature value does not verify") from e

    @staticmethod
    def outcome(tx: PendingTransaction) -> Outcome:
        """The transaction's state as an :class:`Outcome` (``settled_now`` False)."""
        vi, en = _MESSAGES.get(tx.status, _MESSAGES["pending"])
        signed = {k: base64.b64decode(v) for k, v in tx.signed_b64.items()}
        return Outcome(tx.transaction_id, tx.status, signed, vi, en, tx.sign_algo)
