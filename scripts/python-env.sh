#!/usr/bin/env bash
# Prints the path of a Python venv with confluent-kafka (librdkafka in the wheel) for the
# Python client e2e test, creating it under ~/.cache/gatehouse/python on first use. Idempotent
# and fast when cached: the venv is kept while its stamp names the same requirement.
# Exit status 3 (with the reason on stderr) when python3 or PyPI is unavailable.
set -euo pipefail
REQ="confluent-kafka==2.16.1"
DIR="${GATEHOUSE_PYTHON_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/python}"
STAMP="$DIR/.gatehouse-requirement"

if [ -x "$DIR/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$REQ" ]; then
  echo "$DIR"
  exit 0
fi
PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "python-env: $PY not found (needed for the Python client test)" >&2
  exit 3
fi
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
if ! "$PY" -m venv "$DIR" >&2; then
  echo "python-env: '$PY -m venv' failed (install python3-venv)" >&2
  rm -rf "$DIR"
  exit 3
fi
if ! "$DIR/bin/python" -m pip install --disable-pip-version-check -q "$REQ" >&2; then
  echo "python-env: pip could not install $REQ" >&2
  rm -rf "$DIR"
  exit 3
fi
echo "$REQ" > "$STAMP"
echo "$DIR"
