"""``hsba xml``: signed XML exports (XML 130 claim tables, HoSoBenhAn record)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from core.errors import InvalidInput


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("xml", help="XML 130 / HoSoBenhAn: xuất, ký, kiểm tra / export, sign, verify")
    xsub = p.add_subparsers(dest="xml_command", required=True)

    exp = xsub.add_parser("export", help="export an encounter as XML 130 or HoSoBenhAn: "
                          "checked against its XSD, sealed, verified and archived")
    src = exp.add_mutually_exclusive_group(required=True)
    src.add_argument("--encounter", help="encounter id in the EMR")
    src.add_argument("--sample", action="store_true", help="a built-in sample encounter")
    exp.add_argument("--format", choices=["xml130", "hosobenhan"], default="xml130")
    exp.add_argument("--sign-with", metavar="KEY_ID", default="",
                     help="sign with this key of the keystore (default: the hospital seal)")
    exp.add_argument("--unsigned", action="store_true",
                     help="XML 130 only: build and check, do not sign or archive")
    exp.add_argument("--level", choices=["XAdES-LT", "XAdES-T", "XAdES-BES"], default=None,
                     help="XAdES-LT (signature time-stamp from the configured TSA plus the "
                          "certificates and OCSP/CRL data, verifiable offline) is the default "
                          "when a TSA is configured; XAdES-T or XAdES-BES only when asked")
    exp.add_argument("--out", required=True, type=Path)
    exp.set_defaults(func=_export)

    ver = xsub.add_parser("verify", help="verify a signed XML file (signature, certificate "
                          "path, integrity, the content against its XSD)")
    ver.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ver.add_argument("--trust", action="append", type=Path, default=[], metavar="PEM")
    ver.add_argument("--format", choices=["auto", "xml130", "hosobenhan"], default="auto",
                     help="auto: by the root element (GIAMDINHHS or HoSoBenhAn)")
    ver.add_argument("--online", action="store_true", help="fetch revocation data")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(func=_verify)


def _export(args: argparse.Namespace) -> int:
    from workflow.services import Services

    if args.format == "hosobenhan":
        return _export_record(args)
    from insurance.xml130 import build_claim

    if args.sample:
        from insurance.sample import sample_encounter

        enc = sample_encounter()
    else:
        from insurance.from_emr import claim_encounter_for

        enc = claim_encounter_for(args.encounter)
    if args.unsigned:
        xml = build_claim(enc)
    else:
        from workflow.xml_exports import export_claim

        services = Services.from_settings()
        try:
            out = export_claim(services, enc, actor_id="cli:xml-export",
                               seal_key_id=args.sign_with or None, level=args.level)
        finally:
            services.close()
        xml = out.xml
        print(f"{out.document_id} v{out.version}: {out.verdict} ({out.object_key})")
    args.out.write_bytes(xml)
    print(str(args.out))
    return 0


def _export_record(args: argparse.Namespace) -> int:
    """HoSoBenhAn of the encounter's patient: XML (sealed), JSON and the signed PDFs in a folder."""
    from sqlalchemy.orm import Session

    from emr import models as m
    from workflow.services import Services
    from workflow.xml_exports import export_record_signed

    if args.sample or not args.encounter:
        raise InvalidInput("xml.need_encounter", "HoSoBenhAn cần --encounter.",
                           "HoSoBenhAn needs --encounter.")
    services = Services.from_settings()
    try:
        with Session(services.engine) as s:
            enc = s.get(m.Encounter, args.encounter)
            if enc is None:
                raise InvalidInput("xml.encounter_not_found", "Không tìm thấy đợt điều trị.",
                                   "Encounter not found.")
            patient_id = enc.patient_id
        exported = export_record_signed(services, patient_id, actor_id="cli:xml-export",
                                        seal_key_id=args.sign_with or None,
                                        level=args.level)
    finally:
        services.close()
    print(f"{exported.document_id} v{exported.version}: {exported.verdict} "
          f"({exported.object_key})")
    for path in exported.write(args.out):
        print(str(path))
    return 0


def _load_pem_certs(paths: list[Path]) -> list[bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    out = []
    for p in paths:
        try:
            for c in x509.load_pem_x509_certificates(p.read_bytes()):
                out.append(c.public_bytes(Encoding.DER))
        except (OSError, ValueError) as e:
            raise InvalidInput("cli.trust", f"Không đọc được tệp chứng thư {p}.",
                               f"Cannot read certificate file {p}.") from e
    return out


def _verify(args: argparse.Namespace) -> int:
    from signer.xml.verify import verify_xml

    roots = _load_pem_certs(args.trust)
    results = []
    for f in args.files:
        try:
            data = f.read_bytes()
        except OSError as e:
            raise InvalidInput("cli.file", f"Không đọc được tệp {f}.", f"Cannot read {f}.") from e
        fmt = _format_of(data) if args.format == "auto" else args.format
        r = verify_xml(data, trust_roots=roots, placement=PLACEMENT[fmt],
                       offline=not args.online)
        results.append((f, r, _content_errors(data, fmt) if r.content_sha256 else []))
    if args.json:
        print(json.dumps([{"file": str(f), **r.to_dict(), "content_errors": errors}
                          for f, r, errors in results], ensure_ascii=False, indent=2))
    else:
        key = "message_en" if args.lang == "en" else "message_vi"
        for f, r, errors in results:
            print(f"{f}: {r.verdict} — {getattr(r, key)}")
            if r.signer_subject:
                print(f"  {r.signer_subject} | {r.signing_time} | {r.algorithm}")
            if r.level:
                stamped = (f" | time-stamp {r.timestamp_time} ({r.timestamp_authority})"
                           if r.timestamp_time else "")
                print(f"  {r.level}{stamped}")
            for problem in errors:
                print(f"  {problem[key]}")
    sys.stdout.flush()
    return 0 if all(r.verdict == "VALID" and not errors for _, r, errors in results) else 1


PLACEMENT = {"xml130": "CHUKYDONVI", "hosobenhan": ""}


def _format_of(data: bytes) -> str:
    """``hosobenhan`` when the root element is ``HoSoBenhAn``, else ``xml130``."""
    from lxml import etree

    try:
        for _, el in etree.iterparse(io.BytesIO(data), events=("start",),
                                     resolve_entities=False, no_network=True, load_dtd=False):
            return "hosobenhan" if el.tag == "HoSoBenhAn" else "xml130"
    except etree.XMLSyntaxError:
        pass
    return "xml130"  # verify_xml reports the parse error


def _content_errors(data: bytes, fmt: str) -> list[dict[str, str]]:
    """The signed content against its XSD (the signature says who and whether it changed;
    this says whether what was signed is a well-formed export)."""
    if fmt == "xml130":
        from insurance.xml130 import claim_errors

        return claim_errors(data)
    from emr.export import record_errors

    return record_errors(data)
