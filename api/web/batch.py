"""Batch signing started from the clinician's page: one confirmation (PIN or
TOTP) authorises every selected document, each bound to the hash the
clinician saw; the documents are then signed one after another on the
signing pool while the page polls the job's progress.

Jobs live in this process (a web session talks to the process that started
the job); a deployment with several API processes needs sticky sessions for
the progress page, or the workflow's own job queue when it has one.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from workflow.signing import factor_error

MAX_JOBS = 200


@dataclass
class ItemResult:
    document_id: str
    form_code: str
    state: str = "waiting"
    """``waiting``, ``ok`` or ``failed``."""
    status: str | None = None
    error_vi: str | None = None
    error_en: str | None = None


@dataclass
class BatchJob:
    id: str
    owner: str
    items: list[ItemResult]
    finished: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.state != "waiting")

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return {"id": self.id, "total": len(self.items), "done": self.done,
                    "finished": self.finished,
                    "ok": sum(1 for i in self.items if i.state == "ok"),
                    "failed": sum(1 for i in self.items if i.state == "failed"),
                    "items": [dict(i.__dict__) for i in self.items]}


class BatchJobs:
    """The jobs of this process, by id; each visible only to its owner."""

    def __init__(self) -> None:
        self._jobs: dict[str, BatchJob] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str, owner: str) -> BatchJob | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def start(self, services: Any, actor: Any, items: list[tuple[str, str, str]], *,
              pin: str | None, totp: str | None) -> BatchJob:
        """``items``: (document id, sha256 seen, form code). The factor is checked
        once, here; a wrong factor starts nothing."""
        if not services.accounts.check_signing_factor(actor.subject, pin=pin, totp=totp):
            services.trail.record("sign", actor=actor, outcome="refused",
                                  details={"reason": "bad_factor", "batch": len(items)})
            raise factor_error()
        job = BatchJob(id=uuid.uuid4().hex, owner=actor.subject,
                       items=[ItemResult(d, f) for d, _, f in items])
        with self._lock:
            if len(self._jobs) >= MAX_JOBS:
                for old in [j for j in self._jobs.values() if j.finished][: MAX_JOBS // 2]:
                    self._jobs.pop(old.id, None)
            self._jobs[job.id] = job
        hashes = [sha for _, sha, _ in items]
        threading.Thread(target=self._run, args=(services, actor, job, hashes),
                         name=f"hsba-web-batch-{job.id[:8]}", daemon=True).start()
        return job

    @staticmethod
    def _run(services: Any, actor: Any, job: BatchJob, hashes: list[str]) -> None:
        for item, sha in zip(job.items, hashes, strict=True):
            try:
                future = services.executor.submit(
                    services.documents.sign, actor, item.document_id,
                    expected_sha256=sha, factor_checked=True)
                out = future.result()
                with job.lock:
                    item.state, item.status = "ok", out.document.status
            except Exception as e:  # noqa: BLE001 - reported per document
                with job.lock:
                    item.state = "failed"
                    item.error_vi = getattr(e, "message_vi", None) or "Lỗi hệ thống."
                    item.error_en = getattr(e, "message_en", None) or "Internal error."
        with job.lock:
            job.finished = True
