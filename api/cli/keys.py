"""``hsba keys``: enrol a practitioner's key, install its certificate, list keys.

- ``hsba keys enroll --practitioner ID --name "..." [--title ...] [--facility ...]
  [--department ...] [--province ...] [--national-id ...]
  [--algorithm rsa2048|rsa3072|ecdsa-p256|ecdsa-p384] --csr-out FILE [--dev-issue]``
  generates the key pair inside the key store (on the HSM with
  ``HSBA_KEYSTORE=pkcs11``) and writes the CSR; ``--dev-issue`` has the
  development PKI issue and install the certificate at once (development only).
- ``hsba keys install-cert --key ID --cert FILE [--chain FILE]``
- ``hsba keys list [--json]``: every key, certificate subject, serial, expiry, status.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.errors import InvalidInput
from core.settings import get_settings

_MESSAGES = {
    "enrolled": ("Đã tạo khoá '{key}' ({algo}) trong kho khoá; CSR ghi vào {csr}.",
                 "Key '{key}' ({algo}) generated in the key store; CSR written to {csr}."),
    "installed": ("Đã cài chứng thư số serial {serial} cho khoá '{key}' (hết hạn {exp}).",
                  "Installed certificate serial {serial} for key '{key}' (expires {exp})."),
    "none": ("Kho khoá chưa có khoá nào.", "The key store holds no key."),
    "header": ("KHOÁ | NGƯỜI HÀNH NGHỀ | THUẬT TOÁN | SERIAL | HẾT HẠN | TRẠNG THÁI | CHỦ THỂ",
               "KEY | PRACTITIONER | ALGORITHM | SERIAL | EXPIRES | STATUS | SUBJECT"),
}


def _say(args: argparse.Namespace, message: str, **kw: object) -> str:
    vi, en = _MESSAGES[message]
    return (en if getattr(args, "lang", "vi") == "en" else vi).format(**kw)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("keys", help="khoá ký số / signing keys")
    ksub = p.add_subparsers(dest="keys_command", required=True)

    e = ksub.add_parser("enroll", help="generate a key pair in the key store and write a CSR")
    e.add_argument("--practitioner", required=True, help="practitioner id (becomes the key id)")
    e.add_argument("--name", required=True, help="full name, e.g. 'Nguyễn Văn An'")
    e.add_argument("--title", default="", help="e.g. 'Bác sĩ'")
    e.add_argument("--facility", default="", help="hospital name")
    e.add_argument("--department", default="")
    e.add_argument("--province", default="")
    e.add_argument("--national-id", default=None, help="CCCD (optional)")
    e.add_argument("--algorithm", default="rsa2048",
                   help="rsa2048|rsa3072|rsa4096|ecdsa-p256|ecdsa-p384|ecdsa-p521")
    e.add_argument("--csr-out", required=True, type=Path)
    e.add_argument("--dev-issue", action="store_true",
                   help="development only: issue and install a certificate from the dev PKI")
    e.set_defaults(func=_enroll)

    i = ksub.add_parser("install-cert", help="install the certificate issued for a key")
    i.add_argument("--key", required=True)
    i.add_argument("--cert", required=True, type=Path)
    i.add_argument("--chain", type=Path, default=None)
    i.set_defaults(func=_install)

    ls = ksub.add_parser("list", help="list keys, certificates, expiry and status")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InvalidInput("cli.unreadable_file", f"Không đọc được tệp {path}.",
                           f"Cannot read file {path}.") from e


def _enroll(args: argparse.Namespace) -> int:
    from hsm import open_keystore
    from hsm.enrolment import enroll, install_certificate
    from hsm.subjects import PractitionerSubject

    settings = get_settings()
    keystore = open_keystore(settings)
    subject = PractitionerSubject(
        name=args.name, title=args.title, facility=args.facility, department=args.department,
        province=args.province, national_id=args.national_id,
        practitioner_id=args.practitioner)
    req = enroll(keystore, args.practitioner, subject, args.algorithm)
    args.csr_out.write_bytes(req.csr_pem)
    print(_say(args, "enrolled", key=req.key_id, algo=req.algorithm, csr=args.csr_out))
    if args.dev_issue:
        from hsm.dev_pki import DevPki

        pki = DevPki.load_or_create(settings.data_dir, base_url=settings.base_url)
        info = install_certificate(keystore, req.key_id, pki.issue_practitioner(req.csr_pem),
                                   pki.chain())
        print(_say(args, "installed", serial=f"{info.serial:x}", key=info.key_id,
                   exp=info.not_after.date().isoformat() if info.not_after else "-"))
    return 0


def _install(args: argparse.Namespace) -> int:
    from hsm import open_keystore
    from hsm.enrolment import install_certificate

    keystore = open_keystore(get_settings())
    chain = _read(args.chain) if args.chain else b""
    info = install_certificate(keystore, args.key, _read(args.cert), chain)
    print(_say(args, "installed", serial=f"{info.serial:x}", key=info.key_id,
               exp=info.not_after.date().isoformat() if info.not_after else "-"))
    return 0


def _list(args: argparse.Namespace) -> int:
    from hsm import open_keystore

    settings = get_settings()
    infos = open_keystore(settings).list_keys()
    if settings.pki == "dev" and (settings.data_dir / "pki" / "pki.json").is_file():
        from hsm.dev_pki import DevPki
        from hsm.keystore import mark_revoked

        pki = DevPki.load_or_create(settings.data_dir, base_url=settings.base_url)
        infos = mark_revoked(infos, pki.revoked_serials())
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], ensure_ascii=False, indent=2))
        return 0
    if not infos:
        print(_say(args, "none"))
        return 0
    print(_say(args, "header"))
    for i in infos:
        print(" | ".join([
            i.key_id, i.practitioner_id or "-", i.algorithm,
            f"{i.serial:x}" if i.serial is not None else "-",
            i.not_after.date().isoformat() if i.not_after else "-", i.status, i.subject or "-",
        ]))
    return 0
