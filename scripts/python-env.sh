#!/bin/sh
# A Python virtual environment with the backend's packages, for the tests that
# run app/app.py with the real interpreter. pip reaches whatever index the
# machine's pip is configured for (PyPI, or a local mirror). Idempotent.
set -eu
cd "$(dirname "$0")/.."
venv=.build/venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import fastapi, uvicorn' 2>/dev/null; then
  exit 0
fi
echo "python-env: creating $venv with fastapi and uvicorn"
python3 -m venv "$venv"
# One retry: an unreachable default index (an offline mirror setup) fails fast.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --retries 1 fastapi uvicorn
