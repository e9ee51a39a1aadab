#!/usr/bin/env bash
# Quick start: install into .venv (with the test extras), lint, and run every test.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "[test]"
bash scripts/install-browser.sh || echo "note: no Chromium could be installed; browser tests will be skipped"
bash scripts/install-postgres.sh || echo "note: no PostgreSQL could be installed; the PostgreSQL tests will be skipped"
# the real FHIR server of tests/test_integration_real_fhir_server.py (npm, pinned by its lock file)
if [ ! -d tests/realfhir/node_modules/@medplum/fhir-router ]; then
  if command -v npm >/dev/null 2>&1; then
    npm ci --prefix tests/realfhir --no-audit --no-fund --loglevel=error \
      || echo "note: npm ci failed; the realfhir tests will be skipped (and say why)"
  else
    echo "note: no npm here; the realfhir tests will be skipped"
  fi
fi
.venv/bin/ruff check .
.venv/bin/mypy cds_hooks plugin
exec .venv/bin/python -m pytest "$@"
