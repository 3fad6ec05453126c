"""Turning app-confirmed remote signing on in a running hsba (one call at start-up).

:func:`install_app_confirmed_signing` builds the :class:`AppConfirmedSigning` over the
right pending store (:func:`~api.remote.pending_db.pending_store_for`: the database on
PostgreSQL, files for the embedded default) with the service's TSA (signatures
complete at PAdES B-T), puts the provider webhook's configuration on the app, and
returns the polling job. On the embedded default the job is added to the in-process
scheduler; on PostgreSQL the caller registers :func:`hsm.remote.polling.poll_provider`
as a periodic task of the queue worker (``workflow.scheduler``), since the scheduler
thread does not run there.

The provider's address, the integrator's ``sp_id``/``sp_password`` and the webhook
secret are not yet settings (``core.settings``): the caller passes them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api.remote.pending_db import pending_store_for
from api.routes.provider_callbacks import ProviderWebhook
from hsm.remote.async_provider import AppConfirmedSigning, Outcome
from hsm.remote.pending import AppConfirmedProvider
from hsm.remote.polling import PollingJob

__all__ = ["install_app_confirmed_signing"]


def install_app_confirmed_signing(
    app: Any, services: Any, client: AppConfirmedProvider, *, webhook_secret: bytes,
    timeout: timedelta = timedelta(minutes=5), on_outcome: Callable[[Outcome], None] | None = None,
    poll_older_than_s: float = 60, poll_every_s: float = 30,
) -> tuple[AppConfirmedSigning, PollingJob]:
    """Wire the provider (see the module docstring); returns the signing service and
    its polling job."""
    if len(webhook_secret) < 16:
        raise ValueError("the webhook secret must have at least 16 bytes")
    timestampers = services.timestampers()
    signing = AppConfirmedSigning(
        client, pending_store_for(services.engine, services.settings.data_dir),
        timeout=timeout, timestamper=timestampers[0] if timestampers else None)
    app.state.provider_webhook = ProviderWebhook(signing, webhook_secret, on_outcome)
    job = PollingJob(signing, older_than_s=poll_older_than_s, every_s=poll_every_s)
    if services.queue is None:
        services.scheduler.add("remote_signing_poll", job)
    return signing, job
