"""First-run seeding of the demo hospital — DEVELOPMENT ONLY.

On an empty database: the EMR demo data (``emr.seed.seed_demo``: organisation,
two departments, practitioners, two patients with encounters) when that
package provides it; keys and certificates for the practitioners and the
hospital seal (keystore + development PKI); and the demo logins, one per
role, written to ``{data_dir}/demo-logins.json`` so ``hsba serve`` can print
them. Refused when ``HSBA_ENV=production``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyotp

from core.errors import ConfigurationError, NotFound

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class DemoLogin:
    kind: str
    """``staff``, ``client`` or ``device``."""
    username: str
    secret: str
    role: str
    totp_secret: str | None = None
    signing_pin: str | None = None
    department: str | None = None
    practitioner_id: str | None = None
    key_id: str | None = None
    display_name: str | None = None


def _staff(tenant: str) -> list[dict[str, Any]]:
    t = tenant
    return [
        {"username": "bs.an", "role": "clinician", "department": "K01", "practitioner_id": f"{t}-P001",
             "display_name": "BS. Nguyễn Văn An", "title": "Bác sĩ chuyên khoa I", "key": True},
        {"username": "bs.binh", "role": "head_of_department", "department": "K01",
             "practitioner_id": f"{t}-P002", "display_name": "BS.CKII Trần Thị Bình",
             "title": "Trưởng khoa", "key": True},
        {"username": "dd.cuc", "role": "nurse", "department": "K01", "practitioner_id": f"{t}-P003",
             "display_name": "ĐD. Lê Thị Cúc", "title": "Điều dưỡng", "key": True},
        {"username": "tn.dung", "role": "cashier", "department": None, "practitioner_id": None,
             "display_name": "Phạm Văn Dũng (thu ngân)"},
        {"username": "kt.em", "role": "auditor", "department": None, "practitioner_id": None,
             "display_name": "Hoàng Thị Em (phòng Quản lý chất lượng)"},
        {"username": "admin", "role": "admin", "department": None, "practitioner_id": None,
             "display_name": "Quản trị hệ thống"},
    ]


def seal_key_id(tenant: str) -> str:
    return f"seal-{tenant}"


def set_seal_key(services: Any, tenant: str, key_id: str, name: str) -> None:
    from sqlalchemy import delete

    from workflow.db import tenants

    with services.engine.begin() as conn:
        conn.execute(delete(tenants).where(tenants.c.id == tenant))
        conn.execute(tenants.insert().values(id=tenant, name=name, seal_key_id=key_id))


def tenant_seal_key(services: Any, tenant: str) -> str:
    """The key the hospital seals patient confirmations with."""
    from sqlalchemy import select

    from workflow.db import tenants

    with services.engine.connect() as conn:
        row = conn.execute(select(tenants.c.seal_key_id).where(tenants.c.id == tenant)).first()
    return row.seal_key_id if row else seal_key_id(tenant)


def practitioner_key_id(practitioner_id: str) -> str:
    return f"prac-{practitioner_id}"


def seed_demo(services: Any, *, tenant: str | None = None,
              key_ids: dict[str, str] | None = None) -> list[DemoLogin]:
    """Seed the demo hospital ``tenant`` if it has no accounts yet; return its logins
    (also when already seeded, read back from ``demo-logins-{tenant}.json``).

    ``key_ids`` maps demo usernames (and ``"seal"``) to keys already in the
    keystore with their certificates (e.g. on a PKCS#11 token); others are
    generated and, with the development PKI, certified."""
    key_ids = key_ids or {}
    settings = services.settings
    if settings.env == "production":
        raise ConfigurationError(
            "seed.production", "Không tạo dữ liệu mẫu trong môi trường production.",
            "Demo data is never seeded in production.")
    tenant = tenant or settings.hospital_code
    path = logins_path(settings.data_dir, tenant)
    if services.accounts.find("staff", _staff(tenant)[0]["username"] + _suffix(tenant,
                                                                               settings)):
        return read_logins(settings.data_dir, tenant)
    emr_ids = _seed_emr(services, tenant)
    logins: list[DemoLogin] = []
    suffix = _suffix(tenant, settings)
    for spec in _staff(tenant):
        if emr_ids is not None:  # link the logins to the EMR's practitioners and departments
            emr_role = {"clinician": "doctor"}.get(spec["role"], spec["role"])
            if emr_role in emr_ids.practitioner_ids:
                spec["practitioner_id"] = emr_ids.practitioner_ids[emr_role]
            if spec["department"] == "K01":
                spec["department"] = emr_ids.department_ids["surgery"]
        key_id = None
        if spec.get("key") and spec["username"] in key_ids:
            key_id = key_ids[spec["username"]]
        elif spec.get("key"):
            key_id = practitioner_key_id(spec["practitioner_id"])
            ensure_practitioner_key(services, key_id, spec["display_name"], spec["title"],
                                    "Khoa Ngoại tổng hợp" if spec["department"] else "",
                                    spec["practitioner_id"])
        login = DemoLogin(
            kind="staff", username=spec["username"] + suffix, secret=f"Demo-{spec['role']}-2026",
            role=spec["role"], totp_secret=pyotp.random_base32(),
            signing_pin="246810" if key_id else None, department=spec["department"],
            practitioner_id=spec["practitioner_id"], key_id=key_id,
            display_name=spec["display_name"])
        logins.append(login)
    seal = key_ids.get("seal") or ensure_seal_key(services, tenant)
    set_seal_key(services, tenant, seal, f"Trung tâm Y tế (demo) {tenant}")
    logins.append(DemoLogin(kind="client", username=f"his-{tenant}", secret=f"his-secret-{tenant}",
                            role="integration", display_name="HIS (demo)"))
    kiosk_department = emr_ids.department_ids["surgery"] if emr_ids is not None else "K01"
    logins.append(DemoLogin(kind="device", username=f"kiosk-{tenant}-K01",
                            secret=f"kiosk-secret-{tenant}", role="kiosk",
                            department=kiosk_department,
                            display_name="Kiosk Khoa Ngoại"))
    for login in logins:
        services.accounts.create(
            tenant=tenant, kind=login.kind, username=login.username, role=login.role,
            secret=login.secret, totp_secret=login.totp_secret, signing_pin=login.signing_pin,
            practitioner_id=login.practitioner_id, key_id=login.key_id,
            department=login.department, display_name=login.display_name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump([asdict(x) for x in logins], fh, ensure_ascii=False, indent=1)
    log.warning("demo hospital %s seeded (development only); logins in %s", tenant, path)
    return logins


def _suffix(tenant: str, settings: Any) -> str:
    """Usernames are global; a second demo tenant gets ``@tenant`` suffixes."""
    return "" if tenant == settings.hospital_code else f"@{tenant}"


def logins_path(data_dir: Path, tenant: str) -> Path:
    return Path(data_dir) / f"demo-logins-{tenant}.json"


def read_logins(data_dir: Path, tenant: str) -> list[DemoLogin]:
    p = logins_path(data_dir, tenant)
    if not p.is_file():
        return []
    return [DemoLogin(**x) for x in json.loads(p.read_text("utf-8"))]


def _seed_emr(services: Any, tenant: str) -> Any:
    """The EMR demo data (``emr.seed``): organisation, departments, practitioners,
    patients, encounters. Returns its ids, or None without the EMR package."""
    try:
        from emr.seed import seed_demo as emr_seed_demo
    except ImportError:
        log.info("emr.seed not available: demo EMR data not seeded")
        return None
    from sqlalchemy.orm import Session

    with Session(services.engine) as session:
        ids = emr_seed_demo(session, tenant)
        session.commit()
    return ids


def ensure_practitioner_key(services: Any, key_id: str, name: str, title: str,
                            department: str, practitioner_id: str) -> None:
    """A key pair in the keystore and, with the development PKI, its certificate."""
    from hsm.subjects import PractitionerSubject

    ks = services.keystore
    if _has_certificate(ks, key_id):
        return
    if not _has_key(ks, key_id):
        ks.generate_key(key_id, "rsa2048")
    if services.pki is None:
        log.warning("key %s generated; its certificate must be installed (hsba keys)", key_id)
        return
    subject = PractitionerSubject(name=name, title=title, facility="Trung tâm Y tế (demo)",
                                  department=department, province="Tây Ninh",
                                  practitioner_id=practitioner_id)
    cert = services.pki.issue_practitioner(ks.public_key(key_id), subject)
    ks.store_certificate(key_id, cert, services.pki.chain())


def ensure_seal_key(services: Any, tenant: str) -> str:
    """The hospital's organisation seal key (patient confirmations are sealed with it)."""
    from hsm.subjects import OrganisationSubject

    ks = services.keystore
    key_id = seal_key_id(tenant)
    if _has_certificate(ks, key_id):
        return key_id
    if not _has_key(ks, key_id):
        ks.generate_key(key_id, "rsa2048")
    if services.pki is not None:
        subject = OrganisationSubject(organisation=f"Trung tâm Y tế (demo) {tenant}",
                                      hospital_code=tenant, province="Tây Ninh")
        cert = services.pki.issue_organisation_seal(ks.public_key(key_id), subject)
        ks.store_certificate(key_id, cert, services.pki.chain())
    return key_id


def _has_key(ks: Any, key_id: str) -> bool:
    try:
        ks.public_key(key_id)
        return True
    except NotFound:
        return False


def _has_certificate(ks: Any, key_id: str) -> bool:
    try:
        ks.certificate(key_id)
        return True
    except Exception:  # noqa: BLE001 - NotFound or certificate pending
        return False
