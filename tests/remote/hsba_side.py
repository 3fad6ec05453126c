"""The hsba side of an app-confirmed signature, run as its own process by the restart
test: ``request`` prepares the documents, persists, asks the provider and then waits
(the test SIGKILLs it there); ``complete`` (a fresh process) finishes from the store.

    python tests/remote/hsba_side.py request STORE PROVIDER_URL PDF N
    python tests/remote/hsba_side.py complete STORE PROVIDER_URL TX_ID OUT_DIR

STORE is a directory (``FilePendingStore``) or a ``postgresql+psycopg://`` URL
(``api.remote.pending_db.DbPendingStore``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider_double import SP_ID, SP_PASSWORD, USER_ID

from hsm.remote.async_provider import (
    AppConfirmedSigning,
    DocumentToSign,
    FilePendingStore,
    PendingStore,
    SmartCaClient,
)


def _store(spec: str) -> PendingStore:
    if spec.startswith("postgresql"):
        from sqlalchemy import create_engine

        from api.remote.pending_db import DbPendingStore

        return DbPendingStore(create_engine(spec))
    return FilePendingStore(spec)


def main() -> None:
    mode, store, url = sys.argv[1:4]
    signing = AppConfirmedSigning(SmartCaClient(url, SP_ID, SP_PASSWORD), _store(store))
    if mode == "request":
        pdf = Path(sys.argv[4]).read_bytes()
        docs = [DocumentToSign(f"doc-{i}", pdf, "BacSi", reason="Ký hồ sơ bệnh án")
                for i in range(int(sys.argv[5]))]
        tx = asyncio.run(signing.request(USER_ID, docs))
        print(json.dumps({"transaction_id": tx.transaction_id, "tran_code": tx.tran_code}),
              flush=True)
        while True:  # waiting for the signer's confirmation: the test kills us here
            time.sleep(1)
    outcome = asyncio.run(signing.complete(sys.argv[4]))
    out = Path(sys.argv[5])
    for doc_id, pdf in outcome.signed.items():
        (out / f"{doc_id}.pdf").write_bytes(pdf)
    print(json.dumps({"status": outcome.status, "docs": sorted(outcome.signed),
                      "sign_algo": outcome.sign_algo}), flush=True)


if __name__ == "__main__":
    main()
