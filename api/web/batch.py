"""Batch signing started from the clinician's page: one confirmation (PIN or
TOTP) authorises every selected document, each bound to the hash the
clinician saw; the page then polls the job's progress.

The job and its per-document state live in the database (``workflow.batch_jobs``):
any API process behind the load balancer shows it to its owner. On PostgreSQL
``hsba worker`` signs it (the durable queue); on the embedded default this process
does, and a job whose process died is shown as interrupted with a button that
resumes the remaining documents.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.web.i18n import pick
from workflow.batch_jobs import (
    MAX_DOCUMENTS,
    STALE_AFTER,
    BatchJob,
    BatchStore,
    resume_batch,
    start_batch,
)

#: the batch page's own texts (vi, en)
TEXT: dict[str, tuple[str, str]] = {
    "queued": ("Đang chờ tiến trình nền nhận lượt ký…",
               "Waiting for a background worker to take the batch…"),
    "interrupted": (("Lượt ký bị gián đoạn (dịch vụ đã khởi động lại). Các tài liệu đã ký vẫn "
                    "được lưu trữ; bạn có thể tiếp tục ký các tài liệu còn lại."),
                    ("The batch was interrupted (the service restarted). The documents "
                    "already signed are archived; you can resume the remaining ones.")),
    "interrupted_queue": ("Tiến trình ký đã dừng; một tiến trình nền khác sẽ tiếp tục.",
                          "The signing worker stopped; another worker will resume it."),
    "resume": ("Tiếp tục ký các tài liệu còn lại", "Resume the remaining documents"),
}


def text(lang: str) -> Any:
    return lambda key: pick(lang, TEXT[key])


class BatchJobs:
    """The web pages' view of the stored batch jobs; each visible only to its owner."""

    max_documents = MAX_DOCUMENTS

    def __init__(self, *, stale_after: timedelta = STALE_AFTER) -> None:
        self.stale_after = stale_after

    def _store(self, services: Any) -> BatchStore:
        return BatchStore(services.engine, stale_after=self.stale_after)

    def start(self, services: Any, actor: Any, items: list[tuple[str, str, str]], *,
              pin: str | None, totp: str | None) -> str:
        """``items``: (document id, sha256 seen, form code). The factor is checked
        once, here; a wrong factor starts nothing. Returns the job id."""
        return start_batch(services, self._store(services), actor, items, pin=pin, totp=totp)

    def get(self, services: Any, job_id: str, actor: Any) -> BatchJob | None:
        return self._store(services).get(job_id, actor)

    def resume(self, services: Any, job_id: str, actor: Any) -> None:
        resume_batch(services, self._store(services), actor, job_id)
