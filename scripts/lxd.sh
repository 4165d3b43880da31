#!/usr/bin/env bash
# A private LXD daemon for the e2e tests, separate from any system one.
#   eval "$(scripts/lxd.sh start)"   start it (idempotent) and export LXD_DIR and LXD_CONF
#   scripts/lxd.sh env               print the export lines only
#   scripts/lxd.sh status            exit 0 when it is running
#   scripts/lxd.sh stop              shut it down (its data stays under the folder)
# The folder is $IMAGO_LXD_DIR, default /tmp/imago-lxd. Progress goes to stderr; stdout carries
# only the export lines. The daemon runs as root with no network of its own and no HTTPS
# listener: clients use its unix socket, and outbound requests may only reach loopback.
set -euo pipefail

BASE="${IMAGO_LXD_DIR:-/tmp/imago-lxd}"
DAEMON_DIR="$BASE/daemon"
CLIENT_DIR="$BASE/client"
PIDFILE="$BASE/lxd.pid"
LOG="$BASE/lxd.log"

say() { echo "lxd.sh: $*" >&2; }

print_env() {
  echo "export LXD_DIR=$DAEMON_DIR"
  echo "export LXD_CONF=$CLIENT_DIR"
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
  if ! running; then
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
  rm -f "$PIDFILE"
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status) running ;;
  *)
    echo "usage: scripts/lxd.sh [start|stop|status|env]" >&2
    exit 2
    ;;
esac
