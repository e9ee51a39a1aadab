#!/usr/bin/env bash
# Quick start: install into .venv and serve the CDS Hooks service with the bundled sample patients.
# Usage: bash scripts/start.sh [--host H] [--port P]   (default http://127.0.0.1:8080)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" ""
exec .venv/bin/rair-cds serve "$@"
