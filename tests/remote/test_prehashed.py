"""hsm.prehashed: digests signed as they are, on the real SoftHSM2 token and with
software keys; every signature verifies with the key's public key over the same digest."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, PSS, PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256, SHA384
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute

from core.errors import InvalidInput
from hsm.pkcs11 import Pkcs11Keystore
from hsm.prehashed import DigestSigner, supported_schemes
from hsm.software import DevSoftwareKeystore


def _pss(md: str = "sha256", salt: int = 32) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": {
        "hash_algorithm": {"algorithm": md},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": md}},
        "salt_length": salt}})


def _verify(pub: keys.PublicKeyInfo, algo: algos.SignedDigestAlgorithm, digest: bytes,
            sig: bytes, md: str = "sha256") -> None:
    key = load_der_public_key(pub.dump())
    hash_ = {"sha256": SHA256(), "sha384": SHA384()}[md]
    pre = utils.Prehashed(hash_)
    name = algo["algorithm"].native
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, digest, ec.ECDSA(pre))
    elif name == "rsassa_pss":
        key.verify(sig, digest, PSS(mgf=MGF1(hash_), salt_length=32), pre)  # type: ignore[union-attr]
    else:
        key.verify(sig, digest, PKCS1v15(), pre)  # type: ignore[union-attr]


CASES = [
    ("rsa2048", algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}), "sha256"),
    ("rsa2048", _pss(), "sha256"),
    ("ecdsa-p256", algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}), "sha256"),
    ("ecdsa-p256", algos.SignedDigestAlgorithm({"algorithm": "sha384_ecdsa"}), "sha384"),
]


@pytest.fixture()
def software_store(tmp_path: Path) -> DevSoftwareKeystore:
    return DevSoftwareKeystore(tmp_path)


@pytest.fixture()
def token_store(test_services) -> Iterator[Pkcs11Keystore]:  # type: ignore[no-untyped-def]
    ks = Pkcs11Keystore(test_services.pkcs11_module, test_services.pkcs11_token_label,
                        test_services.pkcs11_user_pin)
    created: list[str] = []
    ks.created = created  # type: ignore[attr-defined]
    yield ks

    def _cleanup(pooled):  # type: ignore[no-untyped-def]
        for obj in list(pooled.session.get_objects({})):
            if str(obj[Attribute.LABEL]) in created:
                obj.destroy()
    ks.pool.run(_cleanup, what="test cleanup")
    ks.close()


@pytest.mark.parametrize(("algorithm", "sign_algo", "md"), CASES)
def test_software_keys_sign_digests(software_store: DevSoftwareKeystore, algorithm: str,
                                    sign_algo: algos.SignedDigestAlgorithm, md: str) -> None:
    software_store.generate_key("k", algorithm)
    signer = DigestSigner(software_store)
    digests = [hashlib.new(md, bytes([i])).digest() for i in range(3)]
    sigs = signer.sign_digests("k", digests, sign_algo, md)
    assert len(sigs) == 3 and signer.usage("k") == 3
    pub = software_store.public_key("k")
    for d, s in zip(digests, sigs, strict=True):
        _verify(pub, sign_algo, d, s, md)
    with pytest.raises(InvalidSignature):
        _verify(pub, sign_algo, digests[1], sigs[0], md)


@pytest.mark.services
@pytest.mark.parametrize(("algorithm", "sign_algo", "md"), CASES)
def test_token_keys_sign_digests(token_store: Pkcs11Keystore, algorithm: str,
                                 sign_algo: algos.SignedDigestAlgorithm, md: str) -> None:
    key_id = f"t-pre-{uuid.uuid4().hex[:8]}"
    token_store.created.append(key_id)  # type: ignore[attr-defined]
    token_store.generate_key(key_id, algorithm)
    signer = DigestSigner(token_store)
    digests = [hashlib.new(md, bytes([i])).digest() for i in range(3)]
    sigs = signer.sign_digests(key_id, digests, sign_algo, md)
    pub = token_store.public_key(key_id)
    for d, s in zip(digests, sigs, strict=True):
        _verify(pub, sign_algo, d, s, md)
    assert signer.usage(key_id) == 3


def test_refusals_sign_nothing(software_store: DevSoftwareKeystore) -> None:
    software_store.generate_key("r", "rsa2048")
    software_store.generate_key("e", "ecdsa-p256")
    signer = DigestSigner(software_store)
    sha256 = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
    bad = [
        ("r", [b"\x00" * 20], sha256, "sha1"),  # weak digest
        ("r", [b"\x00" * 31], sha256, "sha256"),  # wrong length
        ("r", [b"\x00" * 32], algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
         "sha256"),  # mechanism of another key type
        ("e", [b"\x00" * 32], sha256, "sha256"),
        ("r", [b"\x00" * 32], algos.SignedDigestAlgorithm({"algorithm": "sha384_rsa"}),
         "sha256"),  # signAlgo and hashAlgo disagree
        ("r", [b"\x00" * 32], _pss("sha384", 48), "sha256"),
    ]
    for key_id, digests, algo, md in bad:
        with pytest.raises(InvalidInput):
            signer.sign_digests(key_id, digests, algo, md)
    assert signer.usage("r") == 0 and signer.usage("e") == 0


def test_supported_schemes_name_oids(software_store: DevSoftwareKeystore) -> None:
    software_store.generate_key("r", "rsa2048")
    software_store.generate_key("e", "ecdsa-p256")
    assert "1.2.840.113549.1.1.11" in supported_schemes(software_store.public_key("r"))
    assert "1.2.840.113549.1.1.10" in supported_schemes(software_store.public_key("r"))
    assert supported_schemes(software_store.public_key("e"))[0] == "1.2.840.10045.4.3.2"
