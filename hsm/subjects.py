"""Who a certificate names: a practitioner or the hospital (organisation seal).

Subjects follow common Vietnamese practice for personal signing certificates:
CN = full name, T = title, O = facility, OU = department, ST = province,
C = VN; the practitioner id goes in ``serialNumber`` (X.520: an identifier of
the subject) and the citizen id, when given, in ``UID`` as ``CCCD:<number>``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["OrganisationSubject", "PractitionerSubject"]


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip())


@dataclass(frozen=True)
class PractitionerSubject:
    """The identity a clinician's certificate carries."""

    name: str
    """Full name, e.g. ``Nguyễn Văn An``."""
    title: str = ""
    """Title / role, e.g. ``Bác sĩ``, ``Điều dưỡng``."""
    facility: str = ""
    """Hospital (cơ sở khám bệnh, chữa bệnh)."""
    department: str = ""
    """Department (khoa), e.g. ``Khoa Ngoại``."""
    province: str = ""
    """Province / city, e.g. ``Tây Ninh``."""
    national_id: str | None = None
    """Citizen id (CCCD), optional; never logged."""
    practitioner_id: str | None = None
    """hsba's practitioner id, put in ``serialNumber``."""

    def to_x509_name(self) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
        if self.province:
            attrs.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, _nfc(self.province)))
        if self.facility:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _nfc(self.facility)))
        if self.department:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                            _nfc(self.department)))
        if self.title:
            attrs.append(x509.NameAttribute(NameOID.TITLE, _nfc(self.title)))
        if self.practitioner_id:
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, self.practitioner_id))
        if self.national_id:
            attrs.append(x509.NameAttribute(NameOID.USER_ID, f"CCCD:{self.national_id}"))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _nfc(self.name)))
        return x509.Name(attrs)

    def to_asn1(self) -> asn1_x509.Name:
        return asn1_x509.Name.load(self.to_x509_name().public_bytes())


@dataclass(frozen=True)
class OrganisationSubject:
    """The hospital, for its organisation seal (con dấu điện tử) certificate."""

    organisation: str
    """Hospital name."""
    hospital_code: str = ""
    """Mã cơ sở khám bệnh, chữa bệnh; put in ``organizationIdentifier``."""
    province: str = ""

    def to_x509_name(self) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
        if self.province:
            attrs.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, _nfc(self.province)))
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _nfc(self.organisation)))
        if self.hospital_code:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER,
                                            f"MSCSKCB:{self.hospital_code}"))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _nfc(self.organisation)))
        return x509.Name(attrs)

    def to_asn1(self) -> asn1_x509.Name:
        return asn1_x509.Name.load(self.to_x509_name().public_bytes())
