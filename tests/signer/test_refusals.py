"""Signing refused, nothing returned: revoked/expired/not-yet-valid certificates,
weak keys and digests, a TSA that does not answer, a missing or signed field."""

from __future__ import annotations

import socket

import pytest

from core.errors import Conflict, HsbaError, SigningError, UnavailableError
from signer.request import SignRequest
from signer.sign import sign_pdf, signature_fields
from signer.timestamps import FailoverTimeStamper, http_timestampers

pytestmark = pytest.mark.services


def _req(level: str = "B-B", **kw) -> SignRequest:
    return SignRequest(field_name=kw.pop("field_name", "doctor"), signer_name="X",
                       level=level, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("label,code", [
    ("revoked", "sign.certificate_revoked"),
    ("expired", "sign.certificate_expired"),
    ("future", "sign.certificate_not_yet_valid"),
])
@pytest.mark.parametrize("level", ["B-B", "B-LTA"])
def test_bad_certificate_refused(signer_pki, form_pdf, label, code, level):
    with pytest.raises(SigningError) as e:
        sign_pdf(form_pdf, _req(level), signer=signer_pki.signer(label),
                 timestampers=[signer_pki.timestamper()], revocation=signer_pki.revocation())
    assert e.value.code == code
    assert e.value.message_vi and e.value.message_en


def test_revoked_found_over_ocsp_not_by_dates(signer_pki, form_pdf):
    """Without a revocation source only the dates are checked: the revoked
    certificate is in its validity period, so the OCSP check is what refuses it."""
    signed = sign_pdf(form_pdf, _req(), signer=signer_pki.signer("revoked"))
    assert signature_fields(signed)["doctor"] is True
    with pytest.raises(SigningError, match="revoked"):
        sign_pdf(form_pdf, _req(), signer=signer_pki.signer("revoked"),
                 revocation=signer_pki.revocation())


def test_weak_rsa_key_refused(signer_pki, form_pdf):
    with pytest.raises(SigningError) as e:
        sign_pdf(form_pdf, _req(), signer=signer_pki.signer("weak"),
                 revocation=signer_pki.revocation())
    assert e.value.code == "sign.weak_key"
    assert "1024" in e.value.message_en


@pytest.mark.parametrize("md", ["sha1", "md5"])
def test_weak_digest_refused(signer_pki, form_pdf, md):
    with pytest.raises(SigningError) as e:
        sign_pdf(form_pdf, _req(md_algorithm=md), signer=signer_pki.signer("doctor-rsa"))
    assert e.value.code == "sign.weak_digest"


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"  # nothing listens there any more


@pytest.mark.parametrize("level", ["B-T", "B-LTA"])
def test_tsa_down_refused(signer_pki, form_pdf, level):
    dead = FailoverTimeStamper(http_timestampers([_dead_url(), _dead_url()], timeout_s=2))
    with pytest.raises(UnavailableError) as e:
        sign_pdf(form_pdf, _req(level), signer=signer_pki.signer("doctor-rsa"),
                 timestampers=[dead], revocation=signer_pki.revocation())
    assert e.value.code == "sign.tsa_unavailable"
    assert dead.failures >= 2


def test_tsa_failover_uses_second(signer_pki, form_pdf):
    chain = FailoverTimeStamper(
        http_timestampers([_dead_url(), signer_pki.tsa_url()], timeout_s=2))
    signed = sign_pdf(form_pdf, _req("B-T"), signer=signer_pki.signer("doctor-ec"),
                      timestampers=[chain], revocation=signer_pki.revocation())
    assert signature_fields(signed)["doctor"] is True
    assert chain.failures >= 1


def test_timestamp_level_without_tsa_refused(signer_pki, form_pdf):
    with pytest.raises(SigningError, match="timestamp"):
        sign_pdf(form_pdf, _req("B-T"), signer=signer_pki.signer("doctor-rsa"))


def test_missing_field_refused(signer_pki, form_pdf):
    with pytest.raises(SigningError) as e:
        sign_pdf(form_pdf, _req(field_name="no_such_field"),
                 signer=signer_pki.signer("doctor-rsa"))
    assert e.value.code == "sign.field_missing"


def test_missing_field_created_when_box_given(signer_pki, form_pdf):
    signed = sign_pdf(form_pdf, _req(field_name="extra", create_field_box=(0, 20, 20, 200, 80)),
                      signer=signer_pki.signer("doctor-rsa"))
    assert signature_fields(signed)["extra"] is True


def test_signed_field_and_late_certification_refused(signer_pki, form_pdf):
    signer = signer_pki.signer("doctor-rsa")
    once = sign_pdf(form_pdf, _req(certify=True), signer=signer)
    with pytest.raises(Conflict):
        sign_pdf(once, _req(), signer=signer)
    with pytest.raises(SigningError) as e:
        sign_pdf(once, _req(field_name="patient", certify=True), signer=signer)
    assert e.value.code == "sign.certify_not_first"


def test_malformed_pdf_refused(signer_pki):
    with pytest.raises(HsbaError) as e:
        sign_pdf(b"%PDF-1.7\nnot really", _req(), signer=signer_pki.signer("doctor-rsa"))
    assert e.value.code == "sign.malformed_pdf"


def test_too_small_reservation_falls_back_to_pyhanko_sizing(signer_pki, form_pdf, monkeypatch):
    """If a measured reservation ever proves too small (a TSA answering with a bigger
    token than the measured one), the signature is re-made with pyHanko's own sizing."""
    import signer.sign as sign_module

    signer = signer_pki.signer("doctor-ec")
    request = _req("B-T")
    ts = signer_pki.timestamper()
    key = sign_module._reserve_key(signer, request, ts)
    monkeypatch.setitem(sign_module._RESERVED, key, 2000)
    signed = sign_pdf(form_pdf, request, signer=signer, timestampers=[ts])
    assert signature_fields(signed)["doctor"] is True
    assert key not in sign_module._RESERVED or sign_module._RESERVED[key] != 2000
