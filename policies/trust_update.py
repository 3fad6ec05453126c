"""``hsba trust update``: fetch CA certificates, keep only those the policy lists.

Sources: each anchor's ``source_url`` (rootca.gov.vn), one ``--source-url``, or
a local directory (offline use). Whatever the source says, a certificate is
installed only if the SHA-256 of its DER bytes matches an enabled anchor of the
trust policy; everything else is reported as rejected and never written.
Accepted certificates are written as ``{store}/{anchor id}.pem`` (atomically).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.errors import HsbaError
from policies.certificates import ParsedCertificate, parse_certificates
from policies.trust import TrustPolicy

CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".p7b", ".p7c")
MAX_DOWNLOAD = 1_000_000


@dataclass(frozen=True)
class Accepted:
    anchor_id: str
    sha256: str
    subject: str
    origin: str
    path: str


@dataclass(frozen=True)
class Rejected:
    origin: str
    reason_vi: str
    reason_en: str
    sha256: str = ""
    subject: str = ""


@dataclass
class TrustUpdateReport:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped: list[Rejected] = field(default_factory=list)
    """Listed but disabled anchors (e.g. the legacy SHA-1 root): recognised, not installed."""

    @property
    def ok(self) -> bool:
        return bool(self.accepted) and not self.rejected

    def to_dict(self) -> dict[str, object]:
        return {
            "accepted": [a.__dict__ for a in self.accepted],
            "rejected": [r.__dict__ for r in self.rejected],
            "skipped": [s.__dict__ for s in self.skipped],
        }


def _fetch(url: str, client: httpx.Client) -> bytes:
    with client.stream("GET", url) as resp:
        resp.raise_for_status()
        body = b""
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > MAX_DOWNLOAD:
                raise ValueError(f"larger than {MAX_DOWNLOAD} bytes")
        return body


def _sources(policy: TrustPolicy, source_url: str | None, source_dir: Path | None,
             report: TrustUpdateReport, timeout: float) -> list[tuple[str, bytes]]:
    """(origin, bytes) of every candidate file; unreachable sources go into ``report``."""
    if source_dir is not None:
        return [(str(p), p.read_bytes()) for p in sorted(source_dir.iterdir())
                if p.is_file() and p.suffix.lower() in CERT_SUFFIXES]
    urls = [source_url] if source_url else [a.source_url for a in policy.anchors
                                            if a.enabled and a.source_url]
    out = []
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                      follow_redirects=True) as client:
        for url in urls:
            assert url is not None
            try:
                out.append((url, _fetch(url, client)))
            except (httpx.HTTPError, ValueError) as e:
                report.rejected.append(Rejected(url, f"không tải được: {e}",
                                                f"could not download: {e}"))
    return out


def update_trust_store(policy: TrustPolicy, store_dir: Path, *, source_url: str | None = None,
                       source_dir: Path | None = None, timeout: float = 20.0
                       ) -> TrustUpdateReport:
    report = TrustUpdateReport()
    candidates: list[tuple[str, ParsedCertificate]] = []
    for origin, data in _sources(policy, source_url, source_dir, report, timeout):
        try:
            candidates += [(origin, c) for c in parse_certificates(data, origin)]
        except HsbaError as e:
            report.rejected.append(Rejected(origin, e.message_vi, e.message_en))
    store_dir.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    for origin, cert in candidates:
        if cert.sha256 in done:
            continue
        anchor = policy.anchor(cert.sha256)
        if anchor is None:
            report.rejected.append(Rejected(
                origin, "dấu vân tay SHA-256 không có trong chính sách tin cậy: không cài",
                "SHA-256 fingerprint not in the trust policy: not installed",
                cert.sha256, cert.subject))
            continue
        done.add(cert.sha256)
        if not anchor.enabled:
            report.skipped.append(Rejected(
                origin, f"'{anchor.id}' bị tắt trong chính sách: không cài",
                f"'{anchor.id}' is disabled in the policy: not installed",
                cert.sha256, cert.subject))
            continue
        path = store_dir / f"{anchor.id}.pem"
        _write_atomic(path, cert.to_pem())
        report.accepted.append(Accepted(anchor.id, cert.sha256, cert.subject, origin, str(path)))
    return report


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
