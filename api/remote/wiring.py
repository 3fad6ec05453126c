"""Turning app-confirmed remote signing on in a running hsba, from the settings.

- :func:`install_from_settings` (API start-up, ``api.app`` lifespan): when
  ``HSBA_REMOTE_PROVIDER`` names a provider, builds its client
  (:func:`provider_client`), the :class:`AppConfirmedSigning` over the right pending
  store (:func:`~api.remote.pending_db.pending_store_for`: the database on PostgreSQL,
  files for the embedded default) with the service's TSA (signatures complete at PAdES
  B-T), puts it on ``app.state.remote_signing`` (the request routes,
  :mod:`api.remote.requests`) and, with ``HSBA_REMOTE_WEBHOOK`` on (SmartCA), the webhook's
  configuration on ``app.state.provider_webhook``. On the embedded default the polling
  job joins the in-process scheduler. Every settled transaction (by webhook or by
  polling) goes to the audit chain (:func:`audit_outcomes`).
- :func:`register_polling_on_queue` (``hsba worker`` on PostgreSQL): the polling job as
  a periodic task of the durable queue, so that one worker polls, not every API
  instance.

A provider configuration with problems (:meth:`core.settings.Settings.
remote_signing_problems`) stops start-up with a :class:`ConfigurationError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api.remote.pending_db import pending_store_for
from api.routes.provider_callbacks import ProviderWebhook
from core.errors import ConfigurationError
from hsm.remote.async_provider import AppConfirmedSigning, Outcome
from hsm.remote.pending import AppConfirmedProvider
from hsm.remote.polling import PollingJob, poll_provider

__all__ = [
    "POLL_JOB",
    "app_confirmed_signing",
    "audit_outcomes",
    "install_app_confirmed_signing",
    "install_from_settings",
    "poll_cron",
    "poll_once",
    "provider_client",
    "register_polling_on_queue",
    "repair_pass",
    "workflow_take_over",
]

log = logging.getLogger("hsba.remote")

POLL_JOB = "remote_signing_poll"
"""The polling job's name on the scheduler and on the durable queue."""


def provider_client(settings: Any) -> AppConfirmedProvider | None:
    """The configured provider's client, or None when ``remote_provider`` is ``none``.
    Raises :class:`ConfigurationError` naming every problem of the configuration."""
    if settings.remote_provider == "none":
        return None
    problems = settings.remote_signing_problems()
    if problems:
        raise ConfigurationError(
            "config.remote_signing", "Cấu hình ký số từ xa chưa đúng: " + "; ".join(problems),
            "The remote signing configuration is wrong: " + "; ".join(problems),
            details=problems)
    secret = settings.remote_sp_secret.get_secret_value()
    if settings.remote_provider == "mysign":
        from hsm.remote.mysign import MySignClient

        return MySignClient(settings.remote_provider_url, settings.remote_sp_id, secret)
    from hsm.remote.smartca import SmartCaClient

    return SmartCaClient(settings.remote_provider_url, settings.remote_sp_id, secret)


def app_confirmed_signing(services: Any, client: AppConfirmedProvider, *,
                          timeout: timedelta = timedelta(minutes=5)) -> AppConfirmedSigning:
    """The signing service over this process's pending store and first TSA."""
    timestampers = services.timestampers()
    return AppConfirmedSigning(
        client, pending_store_for(services.engine, services.settings.data_dir),
        timeout=timeout, timestamper=timestampers[0] if timestampers else None)


def audit_outcomes(services: Any) -> Callable[[Outcome], None]:
    """``on_outcome`` that writes each settled transaction to the audit chain (ids,
    status, algorithm and the clinician who signs, ``signer_account``; the subscriber id
    and the documents stay out)."""
    from api.remote.signer import signer_of

    stores: list[Any] = []

    def signer(transaction_id: str) -> str | None:
        if not stores:
            stores.append(pending_store_for(services.engine, services.settings.data_dir))
        tx = stores[0].load(transaction_id)
        return None if tx is None else signer_of(tx)

    def record(outcome: Outcome) -> None:
        try:
            details = {"remote_transaction": outcome.transaction_id, "stage": "settled",
                       "status": outcome.status, "signed": sorted(outcome.signed),
                       "sign_algo": outcome.sign_algo}
            account = signer(outcome.transaction_id)
            if account is not None:
                details["signer_account"] = account
            services.trail.record(
                "sign", actor="system:remote-signing",
                outcome="ok" if outcome.status == "completed" else outcome.status,
                details=details)
        except Exception:  # settled and stored already: never fail the caller for it
            log.exception("remote signing outcome not audited",
                          extra={"transaction_id": outcome.transaction_id})

    return record


def workflow_take_over(services: Any, signing: AppConfirmedSigning,
                       then: Callable[[Outcome], None] | None = None,
                       ) -> Callable[[Outcome], None]:
    """``on_outcome`` that first hands a settled transaction's signed workflow documents
    to the workflow (``workflow.remote_signing.take_over``: archived as new versions,
    the forms move on), then calls ``then`` (e.g. :func:`audit_outcomes`). Runs on a
    worker thread (the webhook route calls it through the thread pool)."""
    from workflow.remote_signing import take_over

    def settled(outcome: Outcome) -> None:
        if then is not None:
            then(outcome)
        try:
            take_over(services, signing.store, outcome.transaction_id)
        except Exception:  # the repair pass of the polling job tries again
            log.exception("remote signature not taken over by the workflow",
                          extra={"transaction_id": outcome.transaction_id})

    return settled


def repair_pass(services: Any, signing: AppConfirmedSigning, *,
                older_than_s: float = 60) -> list[str]:
    """Completed transactions whose workflow documents were not all taken over (the
    process died in between): taken over again (``take_over_unfinished``)."""
    from workflow.remote_signing import take_over_unfinished

    try:
        return take_over_unfinished(services, signing.store, older_than_s=older_than_s)
    except Exception:
        log.exception("remote signing repair pass failed")
        return []


def _settled(outcomes: list[Outcome], record: Callable[[Outcome], None]) -> list[Outcome]:
    for outcome in outcomes:
        if outcome.settled_now:
            record(outcome)
    return outcomes


class _SettlingPolling(PollingJob):
    """:class:`PollingJob` whose settled outcomes go to ``record``, followed by the
    workflow's repair pass."""

    def __init__(self, services: Any, signing: AppConfirmedSigning,
                 record: Callable[[Outcome], None], **kw: float) -> None:
        super().__init__(signing, **kw)
        self._services = services
        self._record = record

    def __call__(self) -> list[Outcome]:
        last = self._last
        outcomes = _settled(super().__call__(), self._record)
        if self._last != last:  # a pass was made (not a skipped tick)
            repair_pass(self._services, self.signing)
        return outcomes


def install_app_confirmed_signing(
    app: Any, services: Any, client: AppConfirmedProvider, *, webhook_secret: bytes | None,
    timeout: timedelta = timedelta(minutes=5), on_outcome: Callable[[Outcome], None] | None = None,
    poll_older_than_s: float = 60, poll_every_s: float = 30,
) -> tuple[AppConfirmedSigning, PollingJob]:
    """Wire the provider on ``app`` (see the module docstring; ``webhook_secret`` None:
    no webhook, the route answers 404); returns the signing service and its polling
    job, which is on the in-process scheduler only on the embedded default."""
    if webhook_secret is not None and len(webhook_secret) < 16:
        raise ValueError("the webhook secret must have at least 16 bytes")
    signing = app_confirmed_signing(services, client, timeout=timeout)
    app.state.remote_signing = signing
    settled = workflow_take_over(services, signing, on_outcome)
    if webhook_secret is not None:
        app.state.provider_webhook = ProviderWebhook(signing, webhook_secret, settled)
    job: PollingJob = _SettlingPolling(services, signing, settled,
                                       older_than_s=poll_older_than_s, every_s=poll_every_s)
    if services.queue is None:
        services.scheduler.add(POLL_JOB, job)
    return signing, job


def install_from_settings(app: Any, services: Any) -> tuple[AppConfirmedSigning,
                                                              PollingJob] | None:
    """:func:`install_app_confirmed_signing` as ``services.settings`` say; None when no
    provider is configured."""
    settings = services.settings
    client = provider_client(settings)
    if client is None:
        return None
    secret = settings.remote_webhook_secret.get_secret_value().encode() \
        if settings.remote_webhook_on else None
    installed = install_app_confirmed_signing(
        app, services, client, webhook_secret=secret, on_outcome=audit_outcomes(services),
        timeout=timedelta(seconds=settings.remote_expiry_s),
        poll_older_than_s=settings.remote_poll_older_than_s,
        poll_every_s=settings.remote_poll_every_s)
    log.info("remote signing provider installed", extra={
        "provider": settings.remote_provider, "webhook": secret is not None,
        "polling": "in-process" if services.queue is None else "hsba worker"})
    return installed


def poll_cron(every_s: float) -> str:
    """A cron (UTC; 6 fields = seconds last, as croniter reads them) ticking about every
    ``every_s`` seconds: seconds under a minute, else whole minutes (at most hourly)."""
    if every_s < 60:
        return f"* * * * * */{max(1, int(every_s))}"
    minutes = min(60, max(1, round(every_s / 60)))
    return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"


def poll_once(services: Any) -> dict[str, Any] | None:
    """One polling pass now (``hsba worker --once``), whatever the transactions' age;
    None when no provider is configured."""
    settings = services.settings
    client = provider_client(settings)
    if client is None:
        return None
    signing = app_confirmed_signing(services, client,
                                    timeout=timedelta(seconds=settings.remote_expiry_s))
    outcomes = _settled(poll_provider(signing, older_than_s=0),
                        workflow_take_over(services, signing, audit_outcomes(services)))
    repaired = repair_pass(services, signing, older_than_s=0)
    return {"job": POLL_JOB, "polled": len(outcomes),
            "settled": [o.transaction_id for o in outcomes if o.settled_now],
            "repaired": repaired}


def register_polling_on_queue(services: Any) -> bool:
    """In the ``hsba worker`` process on PostgreSQL: the polling job as a periodic task
    of the durable queue (one worker runs each tick). False when no provider is
    configured or there is no queue (the embedded default polls in the API process)."""
    settings = services.settings
    queue = services.queue
    if queue is None:
        return False
    client = provider_client(settings)
    if client is None:
        return False
    signing = app_confirmed_signing(services, client,
                                    timeout=timedelta(seconds=settings.remote_expiry_s))
    older = settings.remote_poll_older_than_s
    record = workflow_take_over(services, signing, audit_outcomes(services))

    def poll() -> dict[str, Any]:
        outcomes = _settled(poll_provider(signing, older_than_s=older), record)
        repaired = repair_pass(services, signing)
        return {"job": POLL_JOB, "polled": len(outcomes),
                "settled": [o.transaction_id for o in outcomes if o.settled_now],
                "repaired": repaired}

    queue.add_job(POLL_JOB, poll, cron=poll_cron(settings.remote_poll_every_s))
    log.info("remote signing polling on the durable queue",
             extra={"provider": settings.remote_provider})
    return True
