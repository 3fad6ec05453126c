#!/usr/bin/env bash
# Set up hsba on this machine (idempotent; a second run takes about a second):
#   1. the Debian packages hsba and its tests need (apt-get only when one is missing);
#   2. uv (pip install uv) when absent;
#   3. .venv from the committed uv.lock (dev group included), never downloading Python.
# Works as root on a fresh Debian 12 with Python 3.11; elsewhere uses sudo for apt.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export UV_PYTHON_DOWNLOADS=never

log() { echo "setup: $*" >&2; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

# ---- 1. Debian packages --------------------------------------------------------
DEB_PACKAGES=(
    softhsm2 opensc              # PKCS#11 token (tests, development) and pkcs11-tool
    poppler-utils                # pdfsig, pdftotext: independent PDF signature checks
    libharfbuzz-subset0          # WeasyPrint subsets fonts with HarfBuzz (3x faster)
    libpango-1.0-0 libpangoft2-1.0-0
    fonts-dejavu-core fonts-liberation2   # fonts covering Vietnamese
    chromium                     # headless browser tests (Playwright, no download)
    openssl xmlsec1              # openssl cms -verify; XML signature cross-checks
)
PG_BIN="${HSBA_PG_BIN:-/usr/lib/postgresql/15/bin}"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

apt_updated=0
apt_install() {
    if [[ $apt_updated -eq 0 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if command -v dpkg-query >/dev/null; then
    missing=()
    for p in "${DEB_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
    # the test services run PostgreSQL 15 from the server binaries (no cluster is used)
    [[ -x "$PG_BIN/initdb" ]] || missing+=(postgresql-15)
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
else
    log "not a Debian system: install by hand ${DEB_PACKAGES[*]} and PostgreSQL 15"
fi

# ---- 2. uv -------------------------------------------------------------------------
find_uv() {
    command -v uv 2>/dev/null && return 0
    local c
    for c in "$HOME/.local/bin/uv" /usr/local/bin/uv; do
        [[ -x "$c" ]] && { echo "$c"; return 0; }
    done
    return 1
}

PYTHON="$(command -v python3.11 || command -v python3 || true)"
[[ -n "$PYTHON" ]] || die "Python 3.11 not found"

if ! UV="$(find_uv)"; then
    log "installing uv with pip"
    if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    # Debian's own Python is "externally managed" (PEP 668): allow this one tool
    "$PYTHON" -m pip install --quiet uv 2>/dev/null \
        || "$PYTHON" -m pip install --quiet --user uv 2>/dev/null \
        || "$PYTHON" -m pip install --quiet --break-system-packages uv
    hash -r
    UV="$(find_uv)" || die "uv was installed but is not on PATH (try \$HOME/.local/bin)"
fi

# ---- 3. Python environment from the lock ----------------------------------------------
# (no --python here: naming a pyenv shim would make uv rebuild an existing .venv)
"$UV" sync --frozen --quiet
log "ready: .venv ($("$REPO/.venv/bin/python" --version 2>&1)), $("$UV" --version)"
