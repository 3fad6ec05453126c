"""An OTP is single use (RFC 6238 §5.2): once ``credentials/authorize`` accepted it for a
credential, the same OTP — or one of an earlier time step still inside the validity
window — is refused with the CSC error ``invalid_otp``, no SAD is issued, nothing is
signed, the refusal is audited; the last used step is in the database, so a restarted
service refuses it too. The service here is the default one (check on)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from test_csc_refusals import Client, _assert_refused, _h, _last_seq

from api.csc.service import CscService


@pytest.fixture()
def strict(csc_env: Any) -> Iterator[Any]:
    """The shared environment with a default CSC service (OTP single-use check on)."""
    relaxed = csc_env.app.state.csc
    csc_env.app.state.csc = CscService(csc_env.services)
    try:
        yield csc_env
    finally:
        csc_env.app.state.csc = relaxed
        relaxed.state.unlock(csc_env.logins["nurse"].key_id)


def test_a_used_otp_is_refused_within_its_window(strict: Any) -> None:
    client = Client(strict, "nurse")  # a credential no other test authorises with the check on
    key = client.login.key_id
    totp = pyotp.TOTP(client.login.totp_secret)
    now = time.time()
    otp = totp.at(now)
    first = client.authorize([_h(1)], otp=otp)
    assert first.status_code == 200, first.text
    usage, since = strict.csc.signer.usage(key), _last_seq(strict)
    _assert_refused(strict, client.authorize([_h(2)], otp=otp), 400, "invalid_otp", key,
                    usage, since, "The OTP is invalid: it has already been used")
    # an OTP of the previous step is still inside the window, but older than the used one
    _assert_refused(strict, client.authorize([_h(3)], otp=totp.at(now - 30)), 400,
                    "invalid_otp", key, usage, since)
    # after a restart (a new service over the same database) the OTP stays used
    strict.app.state.csc = CscService(strict.services)
    _assert_refused(strict, client.authorize([_h(4)], otp=otp), 400, "invalid_otp", key,
                    usage, since, "The OTP is invalid: it has already been used")
    # the SAD issued with the first use still signs its own hash, once
    sad = first.json()["SAD"]
    assert client.sign(sad, [_h(1)]).status_code == 200
    assert strict.csc.signer.usage(key) == usage + 1
    # the next step's OTP (inside the window) is fresh and accepted
    strict.csc.state.unlock(key)
    assert client.authorize([_h(5)], otp=totp.at(now + 30)).status_code == 200


def test_replay_check_cannot_be_turned_off_in_production() -> None:
    """Stand-ins for the settings and services: only `settings.env` is read before the
    refusal, and a real production Services cannot start here (development adapters)."""
    from dataclasses import dataclass

    from core.errors import HsbaError

    @dataclass
    class _Settings:
        env: str = "production"

    class _Services:
        settings = _Settings()

    with pytest.raises(HsbaError) as err:
        CscService(_Services(), otp_replay_check=False)
    assert err.value.code == "config.otp_replay_check_off"
