"""The web session over plain HTTP (no browser): log-in redirects, cookie
flags, CSRF refusals that change nothing, another role's pages refused,
wrong TOTP refused."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.browser


def _login(client: httpx.Client, web_env, role: str) -> None:  # type: ignore[no-untyped-def]
    form = client.get("/web/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    login = web_env.logins[role]
    r = client.post("/web/login", data={"username": login.username, "password": login.secret,
                                        "totp": web_env.totp(role), "csrf": csrf})
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "hsba_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_pages_need_a_session(web_env) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=web_env.base_url) as c:
        for path in ("/web/inbox", "/web/history", "/web/audit/verify", "/web/admin"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/web/login?expired=1"
        r = c.get("/web/kiosk")
        assert r.headers["location"] == "/web/kiosk/login?expired=1"


def test_wrong_totp_is_refused(web_env) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=web_env.base_url) as c:
        form = c.get("/web/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        login = web_env.logins["clinician"]
        wrong = f"{(int(web_env.totp('clinician')) + 500_000) % 1_000_000:06d}"
        r = c.post("/web/login", data={"username": login.username, "password": login.secret,
                                       "totp": wrong, "csrf": csrf})
        assert r.status_code == 401
        assert "Sai thông tin đăng nhập." in r.text
        assert "hsba_session" not in r.headers.get("set-cookie", "")


def test_login_without_csrf_cookie_is_refused(web_env) -> None:  # type: ignore[no-untyped-def]
    login = web_env.logins["clinician"]
    with httpx.Client(base_url=web_env.base_url) as c:
        r = c.post("/web/login", data={"username": login.username, "password": login.secret,
                                       "totp": web_env.totp("clinician"), "csrf": "forged"})
        assert r.status_code == 401 and "hsba_session" not in r.headers.get("set-cookie", "")


def test_sign_without_csrf_changes_nothing(web_env) -> None:  # type: ignore[no-untyped-def]
    (doc_id,) = web_env.create_consents(1)
    view = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    with httpx.Client(base_url=web_env.base_url) as c:
        _login(c, web_env, "clinician")
        r = c.post(f"/web/documents/{doc_id}/sign", data={
            "sha256": view.sha256, "pin": web_env.logins["clinician"].signing_pin,
            "csrf": "0" * 40})
        assert r.status_code == 403
        assert "Biểu mẫu đã hết hạn" in r.text
        r = c.post("/web/batch", data={"doc": f"{doc_id}:{view.sha256}:consent_surgery",
                                       "pin": web_env.logins["clinician"].signing_pin})
        assert r.status_code == 403
    after = web_env.services.documents.get(web_env.actor("clinician"), doc_id, audit=False)
    assert after.version == view.version == 0


def test_roles_stay_on_their_pages(web_env) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=web_env.base_url) as c:
        _login(c, web_env, "clinician")
        assert c.get("/web/admin").status_code == 403
        assert c.get("/web/audit/verify").status_code == 403
        assert c.get("/web/kiosk").status_code == 403
    with httpx.Client(base_url=web_env.base_url) as c:
        _login(c, web_env, "admin")
        r = c.get("/web/audit/archive")
        assert r.status_code == 403 and 'href="' in r.text  # an error page with a way back


def test_language_switch_stays_on_this_site(web_env) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=web_env.base_url) as c:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            r = c.get("/web/lang/en", params={"next": target})
            assert r.status_code == 303 and r.headers["location"] == "/web/"
        r = c.get("/web/lang/en", params={"next": "/web/login"})
        assert r.headers["location"] == "/web/login" and "hsba_lang=en" in r.headers["set-cookie"]
        page = c.get("/web/login")
        assert 'lang="en"' in page.text and "Staff log in" in page.text
