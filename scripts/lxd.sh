#!/usr/bin/env bash
# A private LXD daemon for the e2e tests, separate from any system one.
#   eval "$(scripts/lxd.sh start)"   start it (idempotent) and export LXD_DIR, LXD_CONF and
#                                    IMAGO_TEST_CA_CERT / IMAGO_TEST_CA_KEY
#   scripts/lxd.sh env               print the export lines only
#   scripts/lxd.sh status            exit 0 when it is running
#   scripts/lxd.sh stop              shut it down (its data stays under the folder)
#   scripts/lxd.sh issue-cert DIR    write DIR/server.crt and DIR/server.key, a certificate for
#                                    127.0.0.1, ::1 and localhost signed by the test CA
# The folder is $IMAGO_LXD_DIR, default /tmp/imago-lxd. Progress goes to stderr; stdout carries
# only the export lines. The daemon runs as root with no network of its own and no HTTPS
# listener: clients use its unix socket, and outbound requests may only reach loopback.
#
# Test CA: LXD (Go) reads the system CA store once per process, so a server under test that
# LXD must trust (simplestreams remotes, `lxc image import https://…`) needs its CA in the
# store before the daemon starts. `start` therefore makes a CA once, in $BASE/ca, and as root
# installs it as /usr/local/share/ca-certificates/imago-test-ca.crt (another folder than the
# default gets imago-test-ca-<hash>.crt, so two harnesses do not overwrite each other) before
# starting the daemon; a daemon already running without that CA is restarted once. Servers
# under test use a certificate from `issue-cert`. `stop` leaves the CA installed; to remove it:
#   rm /usr/local/share/ca-certificates/imago-test-ca*.crt && update-ca-certificates --fresh
set -euo pipefail

BASE="${IMAGO_LXD_DIR:-/tmp/imago-lxd}"
DAEMON_DIR="$BASE/daemon"
CLIENT_DIR="$BASE/client"
PIDFILE="$BASE/lxd.pid"
LOG="$BASE/lxd.log"
CA_DIR="$BASE/ca"
CA_CERT="$CA_DIR/ca.crt"
CA_KEY="$CA_DIR/ca.key"
# The CA the running daemon was started with (its sha256), to know when it must restart.
CA_SEEN="$BASE/lxd.ca"

say() { echo "lxd.sh: $*" >&2; }

print_env() {
  echo "export LXD_DIR=$DAEMON_DIR"
  echo "export LXD_CONF=$CLIENT_DIR"
  echo "export IMAGO_TEST_CA_CERT=$CA_CERT"
  echo "export IMAGO_TEST_CA_KEY=$CA_KEY"
}

# Runs a command, showing its output only when it fails.
quiet() {
  local out
  if ! out="$("$@" 2>&1)"; then
    echo "$out" >&2
    return 1
  fi
}

base_tag() { echo "$BASE" | sha256sum | cut -c1-8; }

ca_installed_path() {
  if [ "$BASE" = /tmp/imago-lxd ]; then
    echo /usr/local/share/ca-certificates/imago-test-ca.crt
  else
    echo "/usr/local/share/ca-certificates/imago-test-ca-$(base_tag).crt"
  fi
}

# Makes the CA once: EC P-256, ten years, allowed to sign server certificates only.
ensure_ca() {
  [ -s "$CA_CERT" ] && [ -s "$CA_KEY" ] && return 0
  say "creating a test CA in $CA_DIR"
  mkdir -p "$CA_DIR"
  chmod 0755 "$CA_DIR"
  (
    umask 077
    quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -keyout "$CA_KEY.new" -out "$CA_CERT.new" -days 3650 \
      -subj "/O=imago tests/CN=imago test CA $(base_tag)" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
  )
  chmod 0644 "$CA_CERT.new"
  mv "$CA_KEY.new" "$CA_KEY"
  mv "$CA_CERT.new" "$CA_CERT"
}

# Puts the CA into the system store (root only); a no-op when it is there already.
install_ca() {
  local dest
  dest="$(ca_installed_path)"
  cmp -s "$CA_CERT" "$dest" && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v update-ca-certificates >/dev/null; then
    say "not root or no update-ca-certificates: the test CA stays out of the system store"
    return 0
  fi
  say "installing the test CA as $dest"
  cp "$CA_CERT" "$dest"
  update-ca-certificates >/dev/null 2>&1
}

ca_sum() { sha256sum "$CA_CERT" | cut -c1-64; }

# Writes DIR/server.crt (leaf only) and DIR/server.key, signed by the test CA.
issue_cert() {
  local dir="${1:?usage: scripts/lxd.sh issue-cert DIR}"
  ensure_ca
  mkdir -p "$dir"
  local ext="$dir/server.ext"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$ext"
  (
    umask 077
    quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost"
  )
  quiet openssl x509 -req -in "$dir/server.csr" -CA "$CA_CERT" -CAkey "$CA_KEY" \
    -CAcreateserial -CAserial "$dir/server.srl" -days 30 -sha256 -extfile "$ext" \
    -out "$dir/server.crt"
  rm -f "$ext" "$dir/server.csr" "$dir/server.srl"
  say "issued $dir/server.crt for 127.0.0.1, ::1 and localhost"
}

# Alive and not a zombie (a daemon whose parent is gone can linger as one after it exits).
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != "Z" ]
}

running() {
  [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")"
}

ensure_installed() {
  command -v lxd >/dev/null && command -v lxc >/dev/null && return 0
  say "installing lxd from apt"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lxd >&2
}

# A dir pool named "default" as the default profile's root disk, so instances and image
# unpacking work; no bridge, so the daemon gets no private-range address.
ensure_pool() {
  if ! lxc storage show default >/dev/null 2>&1; then
    lxc storage create default dir >&2
  fi
  if ! lxc profile device show default | grep -q '^root:'; then
    lxc profile device add default root disk path=/ pool=default >&2
  fi
  # Cached images are refreshed from their source every few hours; tests want no surprises.
  lxc config set images.auto_update_interval 0 >&2
}

start() {
  ensure_installed
  mkdir -p "$DAEMON_DIR" "$CLIENT_DIR"
  chmod 0711 "$BASE" "$DAEMON_DIR"
  export LXD_DIR="$DAEMON_DIR" LXD_CONF="$CLIENT_DIR"
  ensure_ca
  install_ca
  if running && [ "$(cat "$CA_SEEN" 2>/dev/null)" != "$(ca_sum)" ]; then
    say "restarting lxd once so that it reads the test CA from the system store"
    stop
    export LXD_DIR="$DAEMON_DIR" LXD_CONF="$CLIENT_DIR"
  fi
  if ! running; then
    ca_sum >"$CA_SEEN"
    say "starting lxd $(lxd --version) in $DAEMON_DIR (log: $LOG)"
    # LXD fetches instance-type lists from the internet at start; a proxy on a closed loopback
    # port makes that fail at once, and LXD never proxies loopback, so local servers still work.
    https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
      setsid lxd --group root --logfile "$LOG" </dev/null >>"$BASE/lxd.out" 2>&1 &
    echo $! >"$PIDFILE"
  fi
  if ! lxd waitready --timeout 60 >&2; then
    say "lxd did not become ready; last log lines:"
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  ensure_pool
  print_env
}

stop() {
  export LXD_DIR="$DAEMON_DIR" LXD_CONF="$CLIENT_DIR"
  if ! running; then
    say "not running"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  timeout 60 lxd shutdown --timeout 50 >&2 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.2
  done
  rm -f "$PIDFILE" "$CA_SEEN"
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status) running ;;
  issue-cert) issue_cert "${2:-}" ;;
  *)
    echo "usage: scripts/lxd.sh [start|stop|status|env|issue-cert DIR]" >&2
    exit 2
    ;;
esac
