#!/usr/bin/env bash
# A real NetBox (4.7.3 + the netbox-bgp plugin) on loopback, for crates/netbox's tests and bench.
#
# Idempotent: every step checks what is already there, so a second run only makes sure the
# services are up (seconds). Installs PostgreSQL and Redis from Debian, NetBox from PyPI into
# target/netbox/venv, migrates once, creates a superuser `admin` and a v1 API token, and starts
# `netbox runserver` in the background. Writes target/netbox.env:
#   NETBOX_URL=http://127.0.0.1:PORT
#   NETBOX_TOKEN=<40 hex>           (v1 token: `Authorization: Token ...`)
# Runs as root (CI) or with sudo. No systemd needed.
#
#   scripts/netbox.sh          set up (if needed) and start
#   scripts/netbox.sh stop     stop the server and the worker started here
#
# The API is served by gunicorn (a NetBox dependency; 3 worker processes, so concurrent page
# requests use both cores) and webhooks are sent by `netbox rqworker`.
#
# Environment: NETBOX_PORT (default 8765), NETBOX_HOME (default target/netbox).
set -euo pipefail
cd "$(dirname "$0")/.."

NETBOX_VERSION=4.7.3
NETBOX_BGP_VERSION=0.20.2
PORT=${NETBOX_PORT:-8765}
HOME_DIR=${NETBOX_HOME:-$PWD/target/netbox}
ENV_FILE=$PWD/target/netbox.env
VENV=$HOME_DIR/venv
ROOT=$HOME_DIR/root
LOG=$HOME_DIR/server.log
PIDFILE=$HOME_DIR/server.pid
WORKER_LOG=$HOME_DIR/rqworker.log
WORKER_PIDFILE=$HOME_DIR/rqworker.pid
DB_PASSWORD=netbox-test-only
# Fixed test token: this NetBox listens on loopback only and holds lab data only.
TOKEN=0123456789abcdef0123456789abcdef01234567

say() { echo "netbox.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

if [ "${1:-}" = stop ]; then
    for f in "$PIDFILE" "$WORKER_PIDFILE"; do
        if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then
            kill "$(cat "$f")" && say "stopped process $(cat "$f")"
        fi
        rm -f "$f"
    done
    exit 0
fi

start=$(date +%s)
mkdir -p "$HOME_DIR"

# --- PostgreSQL and Redis from Debian -------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null || ! command -v redis-server >/dev/null || ! command -v curl >/dev/null; then
    say "installing postgresql, redis-server and curl"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server curl >/dev/null
fi
PG_VERSION=$(pg_lsclusters -h | awk '{print $1}' | sort -n | tail -1)
[ -n "$PG_VERSION" ] || die "no PostgreSQL cluster found (pg_lsclusters is empty)"
PG_CLUSTER=$(pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v {print $2; exit}')
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    say "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
    as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
fi
PG_PORT=$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $3}')
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
    say "starting redis-server"
    redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
fi
if [ "$(as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_roles WHERE rolname='netbox'")" != 1 ]; then
    as_postgres psql -p "$PG_PORT" -qc "CREATE ROLE netbox LOGIN PASSWORD '$DB_PASSWORD'"
fi
if [ "$(as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname='netbox'")" != 1 ]; then
    as_postgres psql -p "$PG_PORT" -qc "CREATE DATABASE netbox OWNER netbox"
fi

# --- Python >= 3.12 and the venv -----------------------------------------------------------
find_python() {
    local candidates=() v
    if command -v pyenv >/dev/null; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.[0-9]+(\.[0-9]+)?$' | sort -V -r); do
            candidates+=("$(pyenv root)/versions/$v/bin/python3")
        done
    fi
    for v in python3.14 python3.13 python3.12 python3; do
        command -v "$v" >/dev/null && candidates+=("$(command -v "$v")")
    done
    for v in "${candidates[@]}"; do
        if [ -x "$v" ] && "$v" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            echo "$v"
            return 0
        fi
    done
    return 1
}
installed=$("$VENV/bin/pip" show netbox 2>/dev/null | sed -n 's/^Version: //p' || true)
if ! [ -x "$VENV/bin/netbox" ] || [ "$installed" != "$NETBOX_VERSION" ]; then
    PYTHON=$(find_python) || die "NetBox $NETBOX_VERSION needs Python >= 3.12 and none was found (tried pyenv versions, python3.14..python3.12, python3). Install one, e.g. 'pyenv install 3.12'."
    say "creating venv with $PYTHON ($("$PYTHON" --version))"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "netbox==$NETBOX_VERSION" "netbox-bgp==$NETBOX_BGP_VERSION" requests
    say "venv ready after $(( $(date +%s) - start ))s"
fi
export NETBOX_ROOT=$ROOT
NB() { "$VENV/bin/netbox" "$@"; }

# --- configuration -------------------------------------------------------------------------
CONF=$ROOT/conf/configuration.py
if ! [ -f "$CONF" ]; then
    say "netbox setup --target $ROOT"
    NB setup --target "$ROOT" >/dev/null
    [ -f "$CONF" ] || die "netbox setup did not write $CONF"
fi
if ! grep -q '^# fabric-operator test settings' "$CONF"; then
    secret=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(60))')
    pepper=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(60))')
    cat >>"$CONF" <<EOF

# fabric-operator test settings (scripts/netbox.sh); these override the values above.
ALLOWED_HOSTS = ['*']
DATABASES = {'default': {
    'ENGINE': 'django.db.backends.postgresql',
    'NAME': 'netbox',
    'USER': 'netbox',
    'PASSWORD': '$DB_PASSWORD',
    'HOST': '127.0.0.1',
    'PORT': '$PG_PORT',
    'CONN_MAX_AGE': 300,
}}
REDIS = {
    'tasks': {'HOST': '127.0.0.1', 'PORT': 6379, 'PASSWORD': '', 'DATABASE': 0, 'SSL': False},
    'caching': {'HOST': '127.0.0.1', 'PORT': 6379, 'PASSWORD': '', 'DATABASE': 1, 'SSL': False},
}
SECRET_KEY = '$secret'
API_TOKEN_PEPPERS = {1: '$pepper'}
PLUGINS = ['netbox_bgp']
MAX_PAGE_SIZE = 1000
DEBUG = False
EOF
fi

# --- database schema, superuser, token -----------------------------------------------------
if ! NB migrate --check >/dev/null 2>&1; then
    t=$(date +%s)
    say "netbox migrate (3-5 min on 2 cores)"
    NB migrate --no-input >"$HOME_DIR/migrate.log" 2>&1 || { tail -30 "$HOME_DIR/migrate.log" >&2; die "migrate failed, see $HOME_DIR/migrate.log"; }
    say "migrate took $(( $(date +%s) - t ))s"
fi
NB shell -c "
from django.contrib.auth import get_user_model
from users.models import Token
U = get_user_model()
u = U.objects.filter(username='admin').first()
if u is None:
    u = U.objects.create_superuser('admin', 'admin@example.invalid', 'admin-test-only')
if not Token.objects.filter(user=u, version=1).exists():
    Token(user=u, version=1, token='$TOKEN').save()
" || die "creating the superuser or the API token failed"

# --- server and webhook worker --------------------------------------------------------------
URL=http://127.0.0.1:$PORT
status_code() { curl -s -o /dev/null -w '%{http_code}' "$URL/api/status/" || true; }
if ! { [ -f "$WORKER_PIDFILE" ] && kill -0 "$(cat "$WORKER_PIDFILE")" 2>/dev/null; }; then
    nohup "$VENV/bin/netbox" rqworker high default low >"$WORKER_LOG" 2>&1 &
    echo $! >"$WORKER_PIDFILE"
fi
if [ "$(status_code)" = 000 ]; then
    say "starting gunicorn on 127.0.0.1:$PORT (log: $LOG)"
    nohup "$VENV/bin/gunicorn" --bind "127.0.0.1:$PORT" --workers 3 --threads 2 --timeout 300 \
        netbox.wsgi >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 120); do
        code=$(status_code)
        [ "$code" != 000 ] && break
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -30 "$LOG" >&2; die "the server exited, see $LOG"; }
        sleep 1
    done
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $TOKEN" "$URL/api/status/" || true)
[ "$code" = 200 ] || die "NetBox at $URL does not answer /api/status/ with the token (HTTP $code)"

cat >"$ENV_FILE" <<EOF
NETBOX_URL=$URL
NETBOX_TOKEN=$TOKEN
EOF
say "NetBox $NETBOX_VERSION ready at $URL after $(( $(date +%s) - start ))s; wrote $ENV_FILE"
echo "NETBOX_URL=$URL"
echo "NETBOX_TOKEN=$TOKEN"
