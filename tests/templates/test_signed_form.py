"""A form signed through hsba's signing engine (signer.sign) is still PDF/A-3b.

The key and certificate come from a throw-away certomancer PKI (test keys, generated in
the test's temporary directory); level B-B needs no network service.
"""

from __future__ import annotations

import io

import pikepdf
from certomancer.registry import CertomancerConfig
from tests.signer.pki import ARCH, write_config

from signer.keys import InMemoryKeySigner
from signer.request import SignRequest
from signer.sign import sign_pdf
from templates.pdfa import check_pdfa
from templates.render import render_form, sample_data


def test_signed_form_still_passes_pdfa(tmp_path):
    path = write_config(tmp_path, "http://127.0.0.1:9")
    arch = CertomancerConfig.from_file(str(path), key_search_dir=str(tmp_path)).get_pki_arch(ARCH)
    chain = [arch.get_cert("doctor-rsa"), arch.get_cert("interm"), arch.get_cert("root")]
    signer = InMemoryKeySigner.from_chain(arch.key_set.get_private_key("doctor-rsa"), chain)
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
