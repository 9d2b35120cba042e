#!/bin/sh
# A Python virtual environment with the backend's pinned packages
# (app/requirements.txt), for the tests that run the app with the real
# interpreter. pip reaches whatever index the machine's pip is configured
# for (PyPI, or a local mirror). Idempotent: it reinstalls only when the
# requirements file changed.
set -eu
cd "$(dirname "$0")/.."
venv=.build/venv
stamp="$venv/requirements.txt"
if [ -x "$venv/bin/python" ] && cmp -s app/requirements.txt "$stamp" &&
  "$venv/bin/python" -c 'import fastapi, uvicorn' 2>/dev/null; then
  exit 0
fi
echo "python-env: installing app/requirements.txt into $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# One retry: an unreachable default index (an offline mirror setup) fails fast.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --retries 1 \
  --only-binary=:all: -r app/requirements.txt
"$venv/bin/python" -m pip check
cp app/requirements.txt "$stamp"
