"""Steps shared by the browser tests: log in, accessibility checks."""

from __future__ import annotations

from typing import Any

# Every visible control must have an accessible name (label, aria-label or text).
UNLABELLED_JS = """
() => {
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea, button, a[href], canvas[tabindex]')) {
    if (el.type === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (el.offsetParent === null && getComputedStyle(el).position !== 'fixed') continue;
    let name = (el.getAttribute('aria-label') || '').trim();
    if (!name && el.getAttribute('aria-labelledby')) {
      name = el.getAttribute('aria-labelledby').split(' ').map(i => (document.getElementById(i) || {}).textContent || '').join(' ').trim();
    }
    if (!name && el.labels && el.labels.length) name = Array.from(el.labels).map(l => l.textContent).join(' ').trim();
    if (!name && ['BUTTON', 'A'].includes(el.tagName)) name = el.textContent.trim();
    if (!name) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}
"""


def unlabelled_controls(page: Any) -> list[str]:
    return list(page.evaluate(UNLABELLED_JS))


def staff_login(page: Any, env: Any, role: str) -> None:
    login = env.logins[role]
    page.goto("/web/login")
    page.get_by_label("Tên đăng nhập").fill(login.username)
    page.get_by_label("Mật khẩu").fill(login.secret)
    page.get_by_label("Mã xác thực một lần").fill(env.totp(role))
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state("networkidle")


def kiosk_login(page: Any, env: Any) -> None:
    login = env.logins["kiosk"]
    page.goto("/web/kiosk/login")
    page.get_by_label("Mã thiết bị").fill(login.username)
    page.get_by_label("Khoá bí mật thiết bị").fill(login.secret)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state("networkidle")
