"""Vietnamese identifiers: CCCD, BHYT card number, ICD-10."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import InvalidInput
from emr.identifiers import cccd_province, validate_bhyt, validate_cccd, validate_icd10


def test_cccd() -> None:
    assert validate_cccd("072187001234") == "072187001234"
    assert validate_cccd(" 0721 8700 1234 ") == "072187001234"
    assert cccd_province("072187001234") == "Tây Ninh"
    assert cccd_province("079203000001") == "Hồ Chí Minh"
    validate_cccd("072187001234", birth_date=date(1987, 4, 12), gender="female")
    validate_cccd("072303000001", birth_date=date(2003, 1, 1), gender="female")
    validate_cccd("072203000001", birth_date=date(2003, 1, 1), gender="male")
    for bad in ("07218700123", "0721870012345", "07218700123a", "003187001234", "999187001234"):
        with pytest.raises(InvalidInput):
            validate_cccd(bad)
    with pytest.raises(InvalidInput) as e:
        validate_cccd("072187001234", birth_date=date(1988, 4, 12))
    assert e.value.details[0]["field"] == "patient.cccd"
    assert "072187001234" not in e.value.message_en
    with pytest.raises(InvalidInput):
        validate_cccd("072187001234", gender="male")


def test_bhyt() -> None:
    assert validate_bhyt("DN4727212345678") == "DN4727212345678"
    assert validate_bhyt("ht3721234567890") == "HT3721234567890"
    for bad in ("DN472721234567", "DN6727212345678", "D14727212345678", "ZZ4727212345678",
                "DN47272123456789"):
        with pytest.raises(InvalidInput):
            validate_bhyt(bad)


def test_icd10() -> None:
    for ok in ("K35.8", "I10", "S72.00", "U07.1", "k35.8"):
        assert validate_icd10(ok) == ok.upper()
    for bad in ("K3", "35.8", "K35.", "K35.88888", "KK35"):
        with pytest.raises(InvalidInput):
            validate_icd10(bad)
