#!/usr/bin/env bash
# Quick start: install into .venv (with the test extras), lint, and run every test.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "[test]"
bash scripts/install-browser.sh || echo "note: no Chromium could be installed; browser tests will be skipped"
.venv/bin/ruff check .
.venv/bin/mypy cds_hooks plugin
exec .venv/bin/python -m pytest "$@"
