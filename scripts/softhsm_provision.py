"""Provision the hsba TEST SoftHSM2 token: keys generated ON the token, certificates from the test PKI.

TEST ONLY. Run by ``scripts/test-services.sh start`` with ``SOFTHSM2_CONF`` set.

1. ``softhsm2-util --init-token`` (label ``hsba-test``, user and SO PIN given);
2. on the token, non-extractable and sensitive: RSA-2048 ``doctor-an``,
   ECDSA P-256 ``doctor-binh-ec``, RSA-2048 ``nurse-chi``, RSA-3072 ``seal``;
3. their public keys to ``OUT/<label>.pub.pem``; ``tests/pki/pki.yml`` declares
   them as public-only keys ``token-<label>``;
4. certomancer issues ``token-<label>`` (so its OCSP responder and CRLs know
   them); each certificate is written back onto the token with the key's label
   and id, and the chain (``interm``, ``root``) beside them.

A stamp file (hash of pki.yml and this script) makes a second run a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARCH = "hsba-test"


@dataclass(frozen=True)
class TokenKey:
    label: str
    """PKCS#11 CKA_LABEL of the key pair and its certificate; CKA_ID is the same, UTF-8."""
    algorithm: str
    """``rsa`` or ``ec``."""
    size: int
    """RSA modulus bits, or 256 for P-256."""

    @property
    def cert_label(self) -> str:
        return f"token-{self.label}"


TOKEN_KEYS: tuple[TokenKey, ...] = (
    TokenKey("doctor-an", "rsa", 2048),
    TokenKey("doctor-binh-ec", "ec", 256),
    TokenKey("nurse-chi", "rsa", 2048),
    TokenKey("seal", "rsa", 3072),
)
CHAIN_LABELS = ("interm", "root")


def _stamp(config: Path) -> str:
    h = hashlib.sha256()
    h.update(config.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def _init_token(tokendir: Path, token_label: str, pin: str, so_pin: str) -> None:
    for child in tokendir.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", token_label,
         "--pin", pin, "--so-pin", so_pin],
        check=True, stdout=subprocess.DEVNULL,
    )


def _generate_keys(session: object, out_dir: Path) -> None:
    import pkcs11
    from asn1crypto import keys as asn1_keys
    from asn1crypto import pem
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.rsa import encode_rsa_public_key

    private_template = {
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.PRIVATE: True,
    }
    public_template = {Attribute.VERIFY: True}
    assert isinstance(session, pkcs11.Session)
    for key in TOKEN_KEYS:
        ident = key.label.encode()
        if key.algorithm == "rsa":
            pub, _ = session.generate_keypair(
                KeyType.RSA, key.size, id=ident, label=key.label, store=True,
                public_template=public_template,
                private_template={
                    **private_template, Attribute.DECRYPT: False, Attribute.UNWRAP: False,
                },
            )
            spki = asn1_keys.PublicKeyInfo({
                "algorithm": {"algorithm": "rsa"},
                "public_key": asn1_keys.RSAPublicKey.load(encode_rsa_public_key(pub)),
            }).dump()
        else:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            pub, _ = params.generate_keypair(
                id=ident, label=key.label, store=True,
                public_template=public_template,
                private_template={**private_template, Attribute.DERIVE: False},
            )
            spki = encode_ec_public_key(pub)
        (out_dir / f"{key.label}.pub.pem").write_bytes(pem.armor("PUBLIC KEY", spki))


def _write_certificates(session: object, config: Path, key_root: Path) -> None:
    import pkcs11
    import yaml
    from certomancer.integrations.alchemist import DefaultAlchemistBackend
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig

    assert isinstance(session, pkcs11.Session)
    cfg = CertomancerConfig(
        yaml.safe_load(config.read_text(encoding="utf-8")), key_search_dir=str(key_root),
        lazy_load_keys=True,  # pyca validates each RSA key for ~0.2 s: load on demand
    )
    arch = cfg.get_pki_arch(ArchLabel(ARCH))
    backend = DefaultAlchemistBackend(session)
    for label in CHAIN_LABELS:
        cert = arch.get_cert(CertLabel(label))
        backend.cert_to_token(cert, label=label, id_attr=label.encode())
    for key in TOKEN_KEYS:
        cert = arch.get_cert(CertLabel(key.cert_label))
        backend.cert_to_token(cert, label=key.label, id_attr=key.label.encode())


def provision(args: argparse.Namespace) -> int:
    import pkcs11

    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    args.tokendir.mkdir(parents=True, exist_ok=True)
    stamp_file = out_dir / "stamp"
    stamp = _stamp(args.config)
    if stamp_file.is_file() and stamp_file.read_text().strip() == stamp and not args.force:
        print("token: already provisioned")
        return 0
    stamp_file.unlink(missing_ok=True)
    _init_token(args.tokendir, args.token_label, args.pin, args.so_pin)
    lib = pkcs11.lib(args.module)
    token = lib.get_token(token_label=args.token_label)
    with token.open(rw=True, user_pin=args.pin) as session:
        _generate_keys(session, out_dir)
        _write_certificates(session, args.config, args.key_root)
    stamp_file.write_text(stamp + "\n")
    print(f"token: provisioned {', '.join(k.label for k in TOKEN_KEYS)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--module", default="/usr/lib/softhsm/libsofthsm2.so")
    p.add_argument("--token-label", default="hsba-test")
    p.add_argument("--pin", required=True)
    p.add_argument("--so-pin", required=True)
    p.add_argument("--tokendir", type=Path, required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--config", type=Path, default=REPO_ROOT / "tests" / "pki" / "pki.yml")
    p.add_argument("--key-root", type=Path, default=REPO_ROOT)
    p.add_argument("--force", action="store_true")
    return provision(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
