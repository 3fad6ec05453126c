"""Development PKI — DEVELOPMENT ONLY: a CA, a TSA and an OCSP responder on disk.

:meth:`DevPki.load_or_create` generates on first run, under ``{dir}/pki/``:
a root CA ("hsba DEV Root CA — KHÔNG DÙNG THẬT"), an issuing (intermediate)
CA, a time-stamping certificate (EKU timeStamping, critical) and an OCSP
responder certificate; later runs reload the same files. It then issues
practitioner and hospital-seal certificates on demand, revokes them, and
answers revocation questions in process (fresh CRLs and OCSP responses), so
B-LT/B-LTA signing works with no network at all.

Certificates carry ``{base_url}/dev-pki/...`` URLs (CRL distribution point,
OCSP, CA issuers) so the running service can serve the same data over HTTP:
see :meth:`DevPki.crl_der`, :meth:`DevPki.ocsp_response`, :meth:`DevPki.ca_cert_der`.

Refused when ``HSBA_ENV=production``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import csr as asn1_csr
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from core.errors import InvalidInput
from hsm.dev_ca import (
    CaMaterial,
    build_crl,
    build_ocsp_response,
    load_ca,
    new_ca,
    revocation_reason,
)
from hsm.keystore import algorithm_of, check_algorithm, refuse_in_production
from hsm.subjects import OrganisationSubject, PractitionerSubject

if TYPE_CHECKING:
    from hsm.dev_revocation import DevRevocationSource, LocalDevTsa, RevocationMaterial

__all__ = ["DevPki"]

log = logging.getLogger(__name__)

_DEV_MARK = "KHÔNG DÙNG THẬT"


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hsba development PKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class DevPki:
    """The development PKI. Build with :meth:`load_or_create`."""

    def __init__(self, directory: Path, base_url: str, root: CaMaterial,
                 issuing: CaMaterial, tsa: CaMaterial, ocsp: CaMaterial) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self.root = root
        self.issuing = issuing
        self.tsa = tsa
        self.ocsp = ocsp
        self._lock = threading.Lock()
        self._tsa_client: LocalDevTsa | None = None

    # --- creation ------------------------------------------------------------
    @classmethod
    def load_or_create(cls, directory: str | os.PathLike[str], *,
                       base_url: str = "http://127.0.0.1:8000") -> DevPki:
        """Load the PKI under ``{directory}/pki``, generating it on first run."""
        refuse_in_production("PKI phát triển (DevPki)", "The development PKI (DevPki)")
        d = Path(directory) / "pki"
        if not (d / "pki.json").is_file():
            cls._create(d, base_url.rstrip("/"))
        meta = json.loads((d / "pki.json").read_text("utf-8"))
        return cls(d, meta["base_url"], load_ca(d, "root"), load_ca(d, "issuing"),
                   load_ca(d, "tsa"), load_ca(d, "ocsp"))

    @classmethod
    def _create(cls, final: Path, base_url: str) -> None:
        """Generate into a private directory, then rename it into place: two processes
        starting at once (server workers, the CLI) end up with the same PKI."""
        final.parent.mkdir(parents=True, exist_ok=True)
        d = Path(tempfile.mkdtemp(prefix=".pki-", dir=final.parent))
        (d / "issued").mkdir(exist_ok=True)
        now = datetime.now(UTC) - timedelta(minutes=5)
        url = f"{base_url}/dev-pki"
        root = new_ca(d, "root", _name(f"hsba DEV Root CA — {_DEV_MARK}"), None, now,
                      days=20 * 365, ca=True, path_len=1, url=url)
        issuing = new_ca(d, "issuing", _name(f"hsba DEV Issuing CA — {_DEV_MARK}"), root, now,
                         days=10 * 365, ca=True, path_len=0, url=url)
        new_ca(d, "tsa", _name(f"hsba DEV TSA — {_DEV_MARK}"), issuing, now,
                     days=10 * 365, ca=False, url=url,
                     eku=[ExtendedKeyUsageOID.TIME_STAMPING])
        new_ca(d, "ocsp", _name(f"hsba DEV OCSP — {_DEV_MARK}"), issuing, now,
                      days=5 * 365, ca=False, url=url, eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
        (d / "revoked.json").write_text("{}", "utf-8")
        # written last: its presence means the PKI is complete
        (d / "pki.json").write_text(json.dumps(
            {"base_url": base_url, "created": datetime.now(UTC).isoformat()}), "utf-8")
        try:
            d.rename(final)
        except OSError:  # another process won the race (or a PKI is already there)
            shutil.rmtree(d, ignore_errors=True)
            if not (final / "pki.json").is_file():
                raise
            return
        log.warning("development PKI created under %s: for development only, never trust it",
                    final)

    # --- certificates ----------------------------------------------------------
    @property
    def trust_roots(self) -> list[asn1_x509.Certificate]:
        return [_asn1(self.root.cert)]

    @property
    def intermediates(self) -> list[asn1_x509.Certificate]:
        return [_asn1(self.issuing.cert)]

    @property
    def tsa_certificate(self) -> asn1_x509.Certificate:
        return _asn1(self.tsa.cert)

    @property
    def ocsp_certificate(self) -> asn1_x509.Certificate:
        return _asn1(self.ocsp.cert)

    def ca_cert_der(self, name: str) -> bytes:
        """DER of ``root`` or ``issuing`` (served at ``/dev-pki/certs/{name}.crt``)."""
        ca = {"root": self.root, "issuing": self.issuing}.get(name)
        if ca is None:
            raise InvalidInput("pki.unknown_ca", f"Không có CA '{name}'.", f"No CA '{name}'.")
        return ca.cert.public_bytes(serialization.Encoding.DER)

    def _public_key_of(self, public_key_or_csr: object
                       ) -> tuple[CertificatePublicKeyTypes, x509.Name | None]:
        """Accept a CSR (PEM/DER bytes, asn1crypto or cryptography) or a public key."""
        obj = public_key_or_csr
        subject: x509.Name | None = None
        if isinstance(obj, asn1_csr.CertificationRequest):
            obj = obj.dump()
        if isinstance(obj, keys.PublicKeyInfo):
            obj = serialization.load_der_public_key(obj.dump())
        elif isinstance(obj, bytes | str):
            data = obj.encode() if isinstance(obj, str) else obj
            if b"-----BEGIN PUBLIC KEY" in data:
                obj = serialization.load_pem_public_key(data)
            else:
                obj = (x509.load_pem_x509_csr(data) if data.lstrip().startswith(b"-----")
                       else x509.load_der_x509_csr(data))
        if isinstance(obj, x509.CertificateSigningRequest):
            if not obj.is_signature_valid:
                raise InvalidInput("pki.bad_csr", "Chữ ký của yêu cầu cấp chứng thư (CSR) sai.",
                                   "The certificate signing request's signature is invalid.")
            subject = obj.subject
            obj = obj.public_key()
        if isinstance(obj, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            return obj, subject
        raise InvalidInput("pki.bad_public_key", "Khoá công khai hoặc CSR không hợp lệ.",
                           "Not a public key or certificate signing request.")

    def _issue(self, public_key_or_csr: object, subject: x509.Name | None, *,
               days: int) -> asn1_x509.Certificate:
        pub, csr_subject = self._public_key_of(public_key_or_csr)
        name = subject or csr_subject
        if name is None:
            raise InvalidInput("pki.no_subject", "Thiếu thông tin chủ thể của chứng thư.",
                               "No subject given for the certificate.")
        spki = keys.PublicKeyInfo.load(pub.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        check_algorithm(algorithm_of(spki))
        now = datetime.now(UTC) - timedelta(minutes=1)
        url = f"{self.base_url}/dev-pki"
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(self.issuing.cert.subject)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.issuing.key.public_key()), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(f"{url}/crl/issuing.crl")],
                None, None, None)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(f"{url}/ocsp")),
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                       x509.UniformResourceIdentifier(f"{url}/certs/issuing.crt")),
            ]), critical=False)
        )
        cert = builder.sign(self.issuing.key, hashes.SHA256())
        (self.directory / "issued" / f"{cert.serial_number:x}.crt.pem").write_bytes(
            cert.public_bytes(serialization.Encoding.PEM))
        log.info("dev PKI issued certificate serial=%x", cert.serial_number)
        return _asn1(cert)

    def issue_practitioner(self, public_key_or_csr: object,
                           subject: PractitionerSubject | None = None, *,
                           days: int = 3 * 365) -> asn1_x509.Certificate:
        """Issue a clinician's signing certificate for a CSR (its signature is checked)
        or a public key. ``subject`` overrides the CSR's subject."""
        return self._issue(public_key_or_csr, subject.to_x509_name() if subject else None,
                           days=days)

    def issue_organisation_seal(self, public_key_or_csr: object,
                                subject: OrganisationSubject | None = None, *,
                                days: int = 3 * 365) -> asn1_x509.Certificate:
        """Issue the hospital's organisation seal certificate."""
        return self._issue(public_key_or_csr, subject.to_x509_name() if subject else None,
                           days=days)

    def issued_certificate(self, serial: int) -> x509.Certificate | None:
        p = self.directory / "issued" / f"{serial:x}.crt.pem"
        if p.is_file():
            return x509.load_pem_x509_certificate(p.read_bytes())
        if serial == self.tsa.cert.serial_number:
            return self.tsa.cert
        return None

    # --- revocation ------------------------------------------------------------
    def _revoked(self) -> dict[str, dict[str, str]]:
        data: dict[str, dict[str, str]] = json.loads(
            (self.directory / "revoked.json").read_text("utf-8"))
        return data

    def revoke(self, serial: int, *, reason: str = "key_compromise",
               at: datetime | None = None) -> None:
        """Revoke a certificate issued by the issuing CA (``reason`` as in RFC 5280)."""
        revocation_reason(reason)
        with self._lock, (self.directory / "revoked.lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # other processes revoke too
            revoked = self._revoked()
            revoked[f"{serial:x}"] = {"at": (at or datetime.now(UTC)).isoformat(),
                                      "reason": reason}
            tmp = self.directory / "revoked.json.tmp"
            tmp.write_text(json.dumps(revoked, indent=1), "utf-8")
            tmp.replace(self.directory / "revoked.json")

    def revoked_serials(self) -> dict[int, tuple[datetime, str]]:
        return {int(k, 16): (datetime.fromisoformat(v["at"]), v["reason"])
                for k, v in self._revoked().items()}

    def crl_der(self, issuer: str = "issuing") -> bytes:
        """A fresh CRL (valid 7 days) of ``issuing`` (lists revoked serials) or ``root``."""
        if issuer == "root":
            return build_crl(self.root, {})
        if issuer != "issuing":
            raise InvalidInput("pki.unknown_ca", f"Không có CA '{issuer}'.", f"No CA '{issuer}'.")
        return build_crl(self.issuing, self.revoked_serials())

    def ocsp_response(self, request_der: bytes) -> bytes:
        """Answer a DER OCSP request (RFC 6960) for a certificate of the issuing CA."""
        return build_ocsp_response(request_der, issuing=self.issuing, responder=self.ocsp,
                                   revoked=self.revoked_serials(),
                                   known=self.issued_certificate)

    def ocsp_response_for(self, cert: asn1_x509.Certificate) -> bytes:
        from cryptography.x509 import ocsp

        req = ocsp.OCSPRequestBuilder().add_certificate(
            x509.load_der_x509_certificate(cert.dump()), self.issuing.cert, hashes.SHA256()
        ).build()
        return self.ocsp_response(req.public_bytes(serialization.Encoding.DER))

    def revocation_material(self, cert: asn1_x509.Certificate) -> RevocationMaterial:
        """Fresh CRLs (issuing and root) and, for a certificate of the issuing CA, an
        OCSP response: everything needed to validate ``cert`` with its chain offline."""
        from hsm.dev_revocation import RevocationMaterial

        ocsps: tuple[bytes, ...] = ()
        if cert.issuer.dump() == _asn1(self.issuing.cert).subject.dump():
            ocsps = (self.ocsp_response_for(cert),)
        return RevocationMaterial(crls=(self.crl_der("issuing"), self.crl_der("root")),
                                  ocsp_responses=ocsps)

    def revocation_source(self) -> DevRevocationSource:
        """A ``signer.revocation.RevocationSource``: a new ``ValidationContext`` per call
        whose OCSP/CRL/issuer fetchers are answered by this PKI in process."""
        from hsm.dev_revocation import DevRevocationSource

        return DevRevocationSource(self)

    def timestamper(self) -> LocalDevTsa:
        """The in-process development TSA (a pyHanko ``TimeStamper``), cached."""
        from hsm.dev_revocation import LocalDevTsa

        with self._lock:
            if self._tsa_client is None:
                self._tsa_client = LocalDevTsa(self.tsa, [self.issuing.cert, self.root.cert])
            return self._tsa_client

    def chain(self) -> Sequence[asn1_x509.Certificate]:
        """Issuing CA then root: the chain to install with an issued certificate."""
        return [_asn1(self.issuing.cert), _asn1(self.root.cert)]
