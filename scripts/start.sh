#!/usr/bin/env bash
# Quick start: install into .venv and serve the CDS Hooks service with the bundled sample patients
# and the demo page on http://127.0.0.1:8080 (loopback only).
# Usage: bash scripts/start.sh [--host H] [--port P]
#
# This is a local trial: CDS client JWT verification is turned off here, explicitly, because the
# demo page and a local EHR simulator hold no signing key (the service logs a loud warning).
# A deployment sets RAIR_CDS_JWT_ISSUERS and leaves RAIR_CDS_AUTH_MODE at "required"
# (docs/CONFIGURATION.md, docs/SECURITY.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
export RAIR_CDS_AUTH_MODE="${RAIR_CDS_AUTH_MODE:-off}"
exec .venv/bin/rair-cds serve "$@"
