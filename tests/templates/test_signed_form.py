"""A form signed through hsba's signing engine (signer.sign) is still PDF/A-3b.

The key and certificates are throw-away test keys generated here (a CA and a doctor);
level B-B needs no network service.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pikepdf
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def _test_chain():
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsba test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1001)
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Trần Quốc Huy")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(1002)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                         False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    der = serialization.Encoding.DER
    pkcs8 = key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    return (asn1_keys.PrivateKeyInfo.load(pkcs8),
            [asn1_x509.Certificate.load(c.public_bytes(der)) for c in (leaf, ca)])

from signer.keys import InMemoryKeySigner
from signer.request import SignRequest
from signer.sign import sign_pdf
from templates.pdfa import check_pdfa
from templates.render import render_form, sample_data


def test_signed_form_still_passes_pdfa():
    key, chain = _test_chain()
    signer = InMemoryKeySigner.from_chain(key, chain)
    form = render_form("discharge_paper", sample_data("discharge_paper"), document_id="D-9",
                       verify_url="http://127.0.0.1:8000/verify/D-9")
    signed = sign_pdf(form.pdf, SignRequest(field_name="doctor", signer_name="Trần Quốc Huy",
                                            role="doctor", level="B-B", certify=True),
                      signer=signer)
    assert signed.startswith(form.pdf)  # an incremental update of the rendered revision
    with pikepdf.open(io.BytesIO(signed)) as pdf:
        fields = {str(f.T): f for f in pdf.Root.AcroForm.Fields}
        assert "/V" in fields["doctor"] and "/V" not in fields["director"]
    report = check_pdfa(signed)
    assert report.verdict == "PASS", report.failures
