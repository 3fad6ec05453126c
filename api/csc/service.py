"""The CSC service over the hospital's key store: credentials, authorisation (SAD)
and hash signing, with sole control (SCAL2).

One credential per practitioner key: the credential id is the key id recorded
on the practitioner's staff account. A SAD is issued only after that
practitioner's own signing PIN *and* a current TOTP; it is bound to the exact
hashes and their count, single-use, and expires after :attr:`CscService.sad_ttl_s`.
An OTP is single-use too: once accepted for a credential, that TOTP step and every
earlier one are refused (``invalid_otp``), so a replayed OTP cannot authorise again.
Every authorisation and signature, granted or refused, goes to the audit chain.
Errors are :class:`CscError` values carrying the CSC error name and HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp
from asn1crypto import algos, x509
from sqlalchemy import select

from api.csc.state import MAX_FAILED_ATTEMPTS, CscState
from core.errors import HsbaError
from hsm.prehashed import DIGEST_SIZES, DigestSigner, supported_schemes
from workflow.accounts import check_secret
from workflow.db import accounts

log = logging.getLogger("hsba.csc")

__all__ = ["Credential", "CscError", "CscService"]


class CscError(HsbaError):
    """A CSC error: ``error`` is the name the CSC specification uses."""

    kind = "invalid_input"

    def __init__(self, status: int, error: str, description: str, vi: str) -> None:
        super().__init__(f"csc.{error}", vi, description, details={"error": error})
        self.http_status = status
        self.error = error
        self.description = description


def _invalid(description: str, vi: str) -> CscError:
    return CscError(400, "invalid_request", description, vi)


@dataclass(frozen=True)
class Credential:
    """A practitioner's signing credential (their key in the HSM)."""

    credential_id: str
    account_id: str
    tenant: str
    username: str
    pin_hash: str | None
    totp_secret: str | None


def _b64_hashes(values: Any, size: int | None) -> list[bytes]:
    if not isinstance(values, list) or not values:
        raise _invalid("Missing (or invalid type) array parameter hash",
                       "Thiếu tham số hash (mảng).")
    out = []
    for v in values:
        try:
            raw = base64.b64decode(str(v), validate=True)
        except (binascii.Error, ValueError) as e:
            raise _invalid("Invalid Base64 hash string parameter",
                           "Giá trị hash không phải Base64 hợp lệ.") from e
        if size is not None and len(raw) != size:
            raise _invalid("Invalid parameter hash", "Độ dài giá trị hash không hợp lệ.")
        out.append(raw)
    return out


def _digest_name(oid: str | None, sign_algo: algos.SignedDigestAlgorithm) -> str:
    if oid:
        try:
            return str(algos.DigestAlgorithmId(oid).native)
        except ValueError as e:
            raise _invalid("Invalid parameter hashAlgo", "Thuật toán băm không hợp lệ.") from e
    try:
        return str(sign_algo.hash_algo)
    except ValueError as e:
        raise _invalid("Missing (or invalid type) string parameter hashAlgo",
                       "Thiếu thuật toán băm.") from e


def parse_sign_algo(oid: Any, params_b64: Any) -> algos.SignedDigestAlgorithm:
    if not isinstance(oid, str) or not oid:
        raise _invalid("Missing (or invalid type) string parameter signAlgo",
                       "Thiếu tham số signAlgo.")
    try:
        value: dict[str, Any] = {"algorithm": oid}
        if params_b64:
            der = base64.b64decode(str(params_b64), validate=True)
            if algos.SignedDigestAlgorithmId(oid).native == "rsassa_pss":
                value["parameters"] = algos.RSASSAPSSParams.load(der)
        algo = algos.SignedDigestAlgorithm(value)
        algo["algorithm"].native  # noqa: B018 - parse now, not while signing
        return algo
    except (ValueError, binascii.Error, TypeError) as e:
        raise _invalid("Invalid parameter signAlgo", "Thuật toán ký không hợp lệ.") from e


def _otp_step(secret: str | None, otp: Any) -> int | None:
    """The TOTP time step ``otp`` is valid for (now, or one step either side), else None."""
    if not isinstance(otp, str) or not secret or not otp.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = datetime.now(UTC)
    current = totp.timecode(now)
    for offset in (0, -1, 1):
        if hmac.compare_digest(totp.generate_otp(current + offset), otp):
            return current + offset
    return None


class CscService:
    """Credentials, authorisation and signing for one process (shared by the routes)."""

    def __init__(self, services: Any, *, sad_ttl_s: int = 300, max_batch: int = 100,
                 otp_replay_check: bool = True) -> None:
        if not otp_replay_check and services.settings.env == "production":
            raise HsbaError("config.otp_replay_check_off",
                            "Không được tắt kiểm tra dùng lại OTP trong môi trường production.",
                            "The OTP replay check cannot be turned off in production.")
        self.services = services
        self.otp_replay_check = otp_replay_check
        """Off only in tests and benchmarks that authorise many times within one 30 s
        TOTP step (refused in production)."""
        self.state = CscState(services.engine)
        # hash signing dispatches on the key store's type: the store itself, not the
        # services' wrapper that pre-parses pyHanko signers
        self.signer = DigestSigner(services.keystore.raw_keystore)
        self.sad_ttl_s = sad_ttl_s
        self.max_batch = max_batch

    # --- audit ----------------------------------------------------------------
    def _audit(self, principal: Any, operation: str, credential_id: str, outcome: str,
               **details: Any) -> None:
        self.services.trail.record("sign", actor=principal, outcome=outcome, details={
            "csc": operation, "credential_id": credential_id, **details})

    def refuse(self, principal: Any, operation: str, credential_id: str,
               error: CscError) -> CscError:
        self._audit(principal, operation, credential_id, "refused", error=error.error,
                    reason=error.description)
        log.info("csc refused", extra={"operation": operation, "credential_id": credential_id,
                                       "error": error.error})
        return error

    # --- credentials ----------------------------------------------------------
    def _credential_rows(self, tenant: str) -> list[Any]:
        with self.services.engine.connect() as conn:
            return list(conn.execute(select(accounts).where(
                accounts.c.tenant == tenant, accounts.c.kind == "staff",
                accounts.c.active == 1, accounts.c.key_id.is_not(None))))

    def credentials_for(self, principal: Any, user_id: str | None = None) -> list[str]:
        """Credential ids the principal may use: a practitioner, their own; a hospital
        system (client credentials), those of ``user_id`` (a username) in its hospital."""
        rows = self._credential_rows(principal.tenant)
        if principal.kind == "staff":
            return [r.key_id for r in rows if r.id == principal.subject]
        if principal.kind == "client":
            return [r.key_id for r in rows if user_id is None or r.username == user_id]
        return []

    def credential(self, principal: Any, credential_id: Any, operation: str) -> Credential:
        if not isinstance(credential_id, str) or not credential_id:
            raise self.refuse(principal, operation, "", _invalid(
                "Missing (or invalid type) string parameter credentialID",
                "Thiếu tham số credentialID."))
        for r in self._credential_rows(principal.tenant):
            if r.key_id == credential_id:
                if principal.kind == "staff" and r.id != principal.subject:
                    raise self.refuse(principal, operation, credential_id, CscError(
                        403, "access_denied",
                        "The credential belongs to another practitioner",
                        "Chứng thư ký này thuộc về người hành nghề khác."))
                if principal.kind not in ("staff", "client"):
                    break
                return Credential(r.key_id, r.id, r.tenant, r.username, r.signing_pin_hash,
                                  r.totp_secret)
        raise self.refuse(principal, operation, credential_id, _invalid(
            "Invalid parameter credentialID", "credentialID không hợp lệ."))

    def credential_info(self, principal: Any, body: dict[str, Any]) -> dict[str, Any]:
        cred = self.credential(principal, body.get("credentialID"), "credentials/info")
        ks = self.services.keystore
        cert = ks.certificate(cred.credential_id)
        chain: Sequence[x509.Certificate] = ks.chain(cred.credential_id)
        certs = [cert] if body.get("certificates", "single") == "single" else [cert, *chain]
        if body.get("certificates") == "none":
            certs = []
        pub = cert.public_key
        info = self.services.keystore.key_info(cred.credential_id)
        out: dict[str, Any] = {
            "description": f"hsba: {cred.username}",
            "key": {"status": "disabled" if self.state.is_locked(cred.credential_id)
                    else "enabled",
                    "algo": supported_schemes(pub), "len": pub.bit_size},
            "cert": {"status": "valid" if info.status == "active" else info.status,
                     "certificates": [base64.b64encode(c.dump()).decode() for c in certs]},
            "authMode": "explicit",
            "SCAL": "2",
            "multisign": self.max_batch,
            "PIN": {"presence": "true", "format": "N",
                    "label": "PIN ký số", "description": "Mã PIN ký số của người hành nghề"},
            "OTP": {"presence": "true", "type": "offline", "format": "N", "ID": "totp",
                    "provider": "hsba", "label": "TOTP"},
            "lang": "vi",
        }
        if body.get("certInfo"):
            out["cert"].update({
                "issuerDN": cert.issuer.human_friendly, "serialNumber": f"{cert.serial_number:x}",
                "subjectDN": cert.subject.human_friendly,
                "validFrom": cert.not_valid_before.strftime("%Y%m%d%H%M%SZ"),
                "validTo": cert.not_valid_after.strftime("%Y%m%d%H%M%SZ")})
        return out

    # --- authorisation ----------------------------------------------------------
    def authorize(self, principal: Any, body: dict[str, Any]) -> dict[str, Any]:
        op = "credentials/authorize"
        cred = self.credential(principal, body.get("credentialID"), op)
        cid = cred.credential_id
        n = body.get("numSignatures")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise self.refuse(principal, op, cid, _invalid(
                "Missing (or invalid type) integer parameter numSignatures",
                "Thiếu hoặc sai tham số numSignatures."))
        if n > self.max_batch:
            raise self.refuse(principal, op, cid, _invalid(
                "numSignatures too large", f"numSignatures vượt quá {self.max_batch}."))
        raw_hashes = body.get("hashes", body.get("hash"))
        try:
            hashes = _b64_hashes(raw_hashes, None)
        except CscError as e:  # SCAL2: the SAD must be bound to the hashes
            raise self.refuse(principal, op, cid, e) from None
        if len(hashes) != n or len({len(h) for h in hashes}) != 1 \
                or len(hashes[0]) not in DIGEST_SIZES.values():
            raise self.refuse(principal, op, cid, _invalid(
                "Invalid parameter numSignatures: it must equal the number of hashes",
                "numSignatures phải bằng số giá trị hash."))
        status = self.services.keystore.key_info(cid).status
        if status != "active":  # NĐ 23/2025 Đ15: certificate status checked before signing
            raise self.refuse(principal, op, cid, _invalid(
                f"Invalid parameter credentialID: the certificate is {status}",
                f"Chứng thư số của khoá không còn hiệu lực ({status})."))
        if self.state.is_locked(cid):
            raise self.refuse(principal, op, cid, CscError(
                403, "access_denied", "The credential is locked after repeated wrong PINs",
                "Chứng thư ký bị khoá do nhập sai PIN nhiều lần."))
        pin, otp = body.get("PIN"), body.get("OTP")
        if not isinstance(pin, str) or not cred.pin_hash or not check_secret(pin, cred.pin_hash):
            self._failed(principal, op, cid)
            raise self.refuse(principal, op, cid, CscError(
                400, "invalid_pin", "The PIN is invalid", "Mã PIN không đúng."))
        step = _otp_step(cred.totp_secret, otp)
        if step is None:
            self._failed(principal, op, cid)
            raise self.refuse(principal, op, cid, CscError(
                400, "invalid_otp", "The OTP is invalid", "Mã OTP không đúng."))
        if self.otp_replay_check and not self.state.use_otp_step(cid, step):
            self._failed(principal, op, cid)
            raise self.refuse(principal, op, cid, CscError(
                400, "invalid_otp", "The OTP is invalid: it has already been used",
                "Mã OTP đã được dùng; hãy chờ mã mới."))
        self.state.reset_failures(cid)
        issued = self.state.issue_sad(cid, principal.subject, [h.hex() for h in hashes], n,
                                      self.sad_ttl_s)
        self._audit(principal, op, cid, "ok", num_signatures=n, expires_in=issued.expires_in)
        return {"SAD": issued.sad, "expiresIn": issued.expires_in}

    def _failed(self, principal: Any, op: str, cid: str) -> None:
        count = self.state.record_failure(cid)
        if count >= MAX_FAILED_ATTEMPTS:
            self._audit(principal, op, cid, "refused", error="locked", failures=count)

    # --- signing ----------------------------------------------------------------
    def sign_hash(self, principal: Any, body: dict[str, Any]) -> dict[str, Any]:
        op = "signatures/signHash"
        cred = self.credential(principal, body.get("credentialID"), op)
        cid = cred.credential_id
        sad = body.get("SAD")
        if not isinstance(sad, str) or not sad:
            raise self.refuse(principal, op, cid, _invalid(
                "Missing (or invalid type) string parameter SAD", "Thiếu tham số SAD."))
        try:
            sign_algo = parse_sign_algo(body.get("signAlgo"), body.get("signAlgoParams"))
            md = _digest_name(body.get("hashAlgorithmOID", body.get("hashAlgo")), sign_algo)
            if md not in DIGEST_SIZES:
                raise _invalid("Invalid parameter hashAlgo",
                               "Thuật toán băm không được chấp nhận (SHA-256 trở lên).")
            hashes = _b64_hashes(body.get("hashes", body.get("hash")), DIGEST_SIZES[md])
        except CscError as e:
            raise self.refuse(principal, op, cid, e) from None
        record = self.state.find_sad(sad)
        if record is None or record.credential_id != cid or record.subject != principal.subject:
            raise self.refuse(principal, op, cid, _invalid(
                "Invalid parameter SAD", "SAD không hợp lệ."))
        if record.used:
            raise self.refuse(principal, op, cid, _invalid(
                "Invalid parameter SAD: already used", "SAD đã được dùng."))
        if record.expires_at < datetime.now(UTC):
            raise self.refuse(principal, op, cid, _invalid("SAD expired", "SAD đã hết hạn."))
        if sorted(h.hex() for h in hashes) != list(record.hashes) \
                or len(hashes) != record.num_signatures:
            raise self.refuse(principal, op, cid, _invalid(
                "Invalid parameter hash: not covered by the SAD",
                "Giá trị hash không nằm trong phạm vi SAD đã cấp."))
        try:
            from hsm.prehashed import scheme_for

            scheme_for(self.services.keystore.public_key(cid), sign_algo, md)
        except HsbaError as e:
            raise self.refuse(principal, op, cid, _invalid(
                "Invalid parameter signAlgo", e.message_vi)) from None
        if not self.state.consume_sad(sad):
            raise self.refuse(principal, op, cid, _invalid(
                "Invalid parameter SAD: already used", "SAD đã được dùng."))
        signatures = self.signer.sign_digests(cid, hashes, sign_algo, md)
        self._audit(principal, op, cid, "ok", num_signatures=len(signatures),
                    sign_algo=sign_algo["algorithm"].native, hash_algo=md)
        return {"signatures": [base64.b64encode(s).decode() for s in signatures]}
