"""Child process for the crash tests: ingest one document version.

``python -m tests.archive.crash_ingest CONFIG_JSON``; the parent sets
``HSBA_TEST_CRASH_AT`` so the process SIGKILLs itself at that step.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from archive.db import make_engine
from archive.fs_store import FilesystemWormStore
from archive.index import RecordsIndex
from archive.ingest import Archiver, DocumentMeta, IngestItem, SignatureRecord
from archive.store import ObjectStore


def store_from_spec(spec: dict[str, Any]) -> ObjectStore:
    if spec["kind"] == "fs":
        return FilesystemWormStore(spec["root"], warn=False)
    from archive.s3 import S3ObjectLockStore

    return S3ObjectLockStore(spec["endpoint"], spec["access_key"], spec["secret_key"],
                             spec["bucket"], prefix=spec["prefix"])


def item_from_config(cfg: dict[str, Any]) -> IngestItem:
    return IngestItem(
        document_id=cfg["document_id"], data=cfg["content"].encode(),
        meta=DocumentMeta(tenant_id=cfg["tenant"], form_code="consent_surgery",
                          patient_cccd="072090001234", department="khoa-ngoai"),
        actor_id="doctor-an",
        signatures=(SignatureRecord("doctor", "doctor", "CN=Nguyen Van An", "pkcs11", "B-LTA",
                                    datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "prac-1"),),
    )


def main() -> int:
    cfg = json.loads(sys.argv[1])
    archiver = Archiver(RecordsIndex(make_engine(cfg["db_url"])), store_from_spec(cfg["store"]))
    receipt = archiver.archive_document(item_from_config(cfg))
    print(json.dumps({"version": receipt.version, "key": receipt.object_key}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
