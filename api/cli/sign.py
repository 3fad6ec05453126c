"""``hsba sign IN.pdf... --signer ID [--level ...] [--field NAME] [--certify] --out DIR [--json]``.

Signs every input in one process with one unlocked key (one authorisation):
the key store from the settings (``hsm.open_keystore``), the TSAs from
``HSBA_TSA_URLS`` (else the development TSA), revocation from the development
PKI (``HSBA_PKI=dev``) or online OCSP/CRL against ``HSBA_TRUST_PEMS``.
Exit 0 when every file was signed, 1 when any was refused (the others are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from core.settings import Settings, get_settings

_MSG = {
    "ok": ("Đã ký {src} → {dst} ({level})", "Signed {src} → {dst} ({level})"),
    "fail": ("KHÔNG ký được {src}: {why}", "NOT signed {src}: {why}"),
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sign", help="ký số PAdES / PAdES-sign PDF files")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN.pdf")
    p.add_argument("--signer", required=True, help="key id in the key store")
    p.add_argument("--level", default="B-LTA", choices=["B-B", "B-T", "B-LT", "B-LTA"])
    p.add_argument("--field", default="doctor", help="signature field (default: doctor)")
    p.add_argument("--certify", action="store_true",
                   help="certification signature (first signature; form filling allowed)")
    p.add_argument("--pss", action="store_true", help="RSASSA-PSS with an RSA key")
    p.add_argument("--reason", default="Xác nhận nội dung")
    p.add_argument("--location", default="")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p.set_defaults(func=_sign)


def _pki_services(settings: Settings) -> tuple[list[Any], Any]:
    """(timestampers, revocation source) for the configuration in force."""
    from signer.revocation import OnlineRevocationSource
    from signer.timestamps import FailoverTimeStamper, http_timestampers

    pki = None
    if settings.pki == "dev":
        from hsm.dev_pki import DevPki

        pki = DevPki.load_or_create(settings.data_dir, base_url=settings.base_url)
    if settings.tsa_urls:
        timestampers: list[Any] = [FailoverTimeStamper(
            http_timestampers(settings.tsa_urls, settings.tsa_timeout_s))]
    else:
        timestampers = [pki.timestamper()] if pki is not None else []
    if pki is not None:
        return timestampers, pki.revocation_source()
    from asn1crypto import pem, x509

    roots = []
    for path in settings.trust_pems:
        data = path.read_bytes()
        if pem.detect(data):
            roots.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True))
        else:
            roots.append(x509.Certificate.load(data))
    return timestampers, OnlineRevocationSource(roots, timeout_s=settings.tsa_timeout_s)


def _name_and_title(cert: Any) -> tuple[str, str]:
    subject = cert.subject.native
    return str(subject.get("common_name", "")), str(subject.get("title", ""))


def _sign(args: argparse.Namespace) -> int:
    from hsm import open_keystore
    from signer.batch import sign_batch
    from signer.request import SignRequest

    settings = get_settings()
    missing = [str(p) for p in args.inputs if not p.is_file()]
    if missing:
        raise InvalidInput("cli.input_missing", "Không tìm thấy tệp: " + ", ".join(missing),
                           "File not found: " + ", ".join(missing))
    keystore = open_keystore(settings)
    signer = keystore.signer_for(args.signer, pss=args.pss)
    name, title = _name_and_title(signer.signing_cert)
    timestampers, revocation = _pki_services(settings)
    request = SignRequest(
        field_name=args.field, signer_name=name or args.signer, role=title,
        reason=args.reason, location=args.location, level=args.level, certify=args.certify,
        use_pss=args.pss, method="hsm" if settings.keystore == "pkcs11" else "software",
    )
    documents = [p.read_bytes() for p in args.inputs]
    results = sign_batch(documents, request, signer=signer, timestampers=timestampers,
                         revocation=revocation)
    args.out.mkdir(parents=True, exist_ok=True)
    en = args.lang == "en"
    report = []
    used: set[str] = set()
    for src, result in zip(args.inputs, results, strict=True):
        item: dict[str, Any] = {"input": str(src), "ok": result.ok,
                                "sha256_before": result.sha256_before}
        if result.ok and result.pdf is not None:
            stem, n = src.stem, 1
            while stem in used:  # the same name twice on the line: keep both outputs
                n += 1
                stem = f"{src.stem}-{n}"
            used.add(stem)
            dst = args.out / f"{stem}.signed.pdf"
            dst.write_bytes(result.pdf)
            item.update(output=str(dst), sha256=result.sha256_after, level=args.level)
            if not args.json:
                print(_MSG["ok"][en].format(src=src, dst=dst, level=args.level))
        else:
            err = result.error or {}
            item["error"] = err
            if not args.json:
                why = err.get("message_en" if en else "message_vi", err.get("code", "?"))
                print(_MSG["fail"][en].format(src=src, why=why), file=sys.stderr)
        report.append(item)
    if args.json:
        print(json.dumps({"signer": args.signer, "results": report}, ensure_ascii=False,
                         indent=2))
    return 0 if all(r.ok for r in results) else 1
