#!/usr/bin/env bash
# Runs the imago CLI from source with Node 26, installing the toolchain and dependencies first.
#   bash scripts/imago.sh serve          bash scripts/imago.sh list
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
exec node --expose-gc "$IMAGO_ROOT/src/cli/main.ts" "$@"
