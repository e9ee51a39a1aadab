# Shared by start.sh and test.sh: make .venv with Python 3.11 and install the project into it.
# durable_rules has no wheels and does not import on Python 3.13, so 3.11 (or 3.12) is required.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY="$candidate"; break; fi
  done
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python - <<'PYCHECK'
import sys
if sys.version_info[:2] not in ((3, 11), (3, 12)):
    sys.exit(f"rair-cds needs Python 3.11 or 3.12 (durable_rules); .venv has {sys.version.split()[0]}")
PYCHECK
EXTRAS="${1:-}"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${EXTRAS}"
