"""Trust policy: which CAs and TSAs hsba trusts, and how revocation is checked.

hsba ships only the SHA-256 fingerprints of the Vietnamese national root CAs
and of the public CAs under them (cross-checked, see ``defaults/trust.yaml``),
never the certificates: ``hsba trust update`` fetches them (from rootca.gov.vn
or a local directory) and installs a certificate only if its fingerprint is
listed here. A hospital adds its own CA and the other hospitals of its
province in its own ``trust.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from asn1crypto import x509
from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInput
from policies.certificates import ParsedCertificate, parse_certificates
from policies.source import Problem, SourceDoc

_FROZEN = ConfigDict(frozen=True, extra="forbid")

TrustList = Literal["national", "hospital", "province"]
Purpose = Literal["signing", "timestamping"]


class TrustAnchor(BaseModel):
    model_config = _FROZEN
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Lower-case hex SHA-256 of the DER certificate."""
    role: Literal["root", "intermediate"] = "root"
    list: TrustList = "national"
    purposes: tuple[Purpose, ...] = ("signing",)
    enabled: bool = True
    """A listed but disabled anchor (e.g. the legacy SHA-1 root) is recognised, not trusted."""
    source_url: str | None = None
    """Where ``hsba trust update`` fetches it (PEM, DER or PKCS#7)."""
    pem: str | None = None
    """A PEM file beside the policy file (a hospital's own CA), checked against ``sha256``."""
    note: str = ""


class AcceptedTsa(BaseModel):
    model_config = _FROZEN
    name: str
    url: str
    anchor: str
    """Id of the trust anchor the TSA's certificate chains to."""


class RevocationRules(BaseModel):
    model_config = _FROZEN
    require: Literal["ocsp_or_crl", "ocsp", "crl"] = "ocsp_or_crl"
    max_age_hours: int = Field(default=24, gt=0)
    """Oldest OCSP response or CRL (by thisUpdate) accepted."""
    check_before_signing: bool = True
    """NĐ 23/2025/NĐ-CP Đ15: certificate status checked before signing."""
    check_at_verification: bool = True
    fail_closed: bool = True
    """No revocation answer = refuse (never only log)."""


class TrustPolicy(BaseModel):
    model_config = _FROZEN

    kind: str = "trust"
    version: str
    legal_basis: str
    anchors: tuple[TrustAnchor, ...] = Field(min_length=1)
    tsas: tuple[AcceptedTsa, ...] = ()
    revocation: RevocationRules = RevocationRules()
    sha256: str = ""
    source: str = ""
    base_dir: str = ""
    """Directory of the policy file (``pem:`` paths are relative to it)."""

    def anchor(self, sha256: str) -> TrustAnchor | None:
        fp = sha256.lower().replace(":", "")
        return next((a for a in self.anchors if a.sha256 == fp), None)

    def accepts(self, sha256: str) -> bool:
        a = self.anchor(sha256)
        return a is not None and a.enabled

    def enabled_anchors(self, *, list_name: str | None = None, purpose: str | None = None,
                        role: str | None = None) -> list[TrustAnchor]:
        return [a for a in self.anchors if a.enabled
                and (list_name is None or a.list == list_name)
                and (purpose is None or purpose in a.purposes)
                and (role is None or a.role == role)]

    def installed(self, store_dir: Path) -> list[tuple[TrustAnchor, ParsedCertificate]]:
        """Certificates of enabled anchors present in ``store_dir`` (``hsba trust update``)
        or as ``pem:`` files; each re-checked against its fingerprint."""
        found: dict[str, tuple[TrustAnchor, ParsedCertificate]] = {}
        files = sorted(store_dir.glob("*.pem")) if store_dir.is_dir() else []
        files += [Path(self.base_dir) / a.pem for a in self.anchors if a.pem]
        for path in files:
            if not path.is_file():
                continue
            for cert in parse_certificates(path.read_bytes(), str(path)):
                anchor = self.anchor(cert.sha256)
                if anchor is not None and anchor.enabled:
                    found[cert.sha256] = (anchor, cert)
        return [found[a.sha256] for a in self.anchors if a.sha256 in found]

    def trust_roots(self, store_dir: Path, purpose: str = "signing") -> list[ParsedCertificate]:
        """Installed root certificates to hand to the validator as trust anchors."""
        return [c for a, c in self.installed(store_dir)
                if a.role == "root" and purpose in a.purposes]

    def intermediates(self, store_dir: Path) -> list[ParsedCertificate]:
        return [c for a, c in self.installed(store_dir) if a.role == "intermediate"]

    def certificates(self, store_dir: Path | None = None) -> list[x509.Certificate]:
        """Every installed, enabled root (signing and timestamping), as asn1crypto
        certificates: what a validator takes as trust anchors. ``store_dir`` defaults to
        ``{data_dir}/trust`` (where ``hsba trust update`` installs)."""
        store = store_dir if store_dir is not None else default_store_dir()
        return [c.certificate for a, c in self.installed(store) if a.role == "root"]


def default_store_dir() -> Path:
    """Where ``hsba trust update`` installs certificates: ``{data_dir}/trust``."""
    from core.settings import get_settings

    return get_settings().data_dir / "trust"


def check_trust_rules(doc: SourceDoc, policy: TrustPolicy, base_dir: Path) -> list[Problem]:
    out: list[Problem] = []
    ids: dict[str, int] = {}
    fps: dict[str, int] = {}
    for i, a in enumerate(policy.anchors):
        if a.id in ids:
            out.append(doc.problem(("anchors", i, "id"), f"mã '{a.id}' bị lặp",
                                   f"duplicate anchor id '{a.id}'"))
        if a.sha256 in fps:
            out.append(doc.problem(("anchors", i, "sha256"), "dấu vân tay bị lặp",
                                   "duplicate fingerprint"))
        ids.setdefault(a.id, i)
        fps.setdefault(a.sha256, i)
        if a.pem:
            path = base_dir / a.pem
            try:
                certs = parse_certificates(path.read_bytes(), str(path))
            except OSError:
                out.append(doc.problem(("anchors", i, "pem"), f"không thấy tệp {a.pem}",
                                       f"file {a.pem} not found"))
                continue
            except InvalidInput as e:
                out.append(doc.problem(("anchors", i, "pem"), e.message_vi, e.message_en))
                continue
            if not any(c.sha256 == a.sha256 for c in certs):
                out.append(doc.problem(("anchors", i, "pem"),
                                       f"chứng thư trong {a.pem} không khớp dấu vân tay sha256",
                                       f"the certificate in {a.pem} does not match sha256"))
    for i, t in enumerate(policy.tsas):
        if t.anchor not in ids:
            out.append(doc.problem(("tsas", i, "anchor"), f"không có trust anchor '{t.anchor}'",
                                   f"no trust anchor '{t.anchor}'"))
    if not policy.revocation.check_before_signing:
        out.append(doc.problem(("revocation", "check_before_signing"),
                               "phải kiểm tra trạng thái chứng thư trước khi ký (NĐ 23/2025 Đ15)",
                               "certificate status must be checked before signing "
                               "(Decree 23/2025 art. 15)"))
    return out
