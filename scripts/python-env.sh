#!/bin/sh
# A Python virtual environment with the backend's pinned packages
# (app/requirements.txt), for the tests that run the app with the real
# interpreter. pip reaches whatever index the machine's pip is configured for
# (PyPI, or a local mirror). Idempotent.
#
# The venv is built once per machine and requirement set, in the user's cache
# (${XDG_CACHE_HOME:-~/.cache}/sophia-manifests/venv-<key>), and .build/venv
# links to it: a fresh clone's `npm test` does not pay the pip install again.
# The key hashes the requirements file, the interpreter and this script, so a
# change to any of them builds a new venv beside the old one.
set -eu
cd "$(dirname "$0")/.."
requirements=app/requirements.txt
python=$(python3 -c 'import sys; print(sys.executable)')
key=$({
  cat "$requirements"
  "$python" -c 'import sys; print(sys.executable, sys.version)'
  cat scripts/python-env.sh
} | sha256sum | cut -c1-16)
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/sophia-manifests
cache=$cache_dir/venv-$key
venv=.build/venv

if [ "$(readlink "$venv" 2>/dev/null)" = "$cache" ] && [ -f "$cache/.complete" ]; then
  exit 0
fi
mkdir -p "$cache_dir" .build
# One builder at a time per cache entry: clones may run `npm test` at once.
(
  flock 9
  if [ ! -f "$cache/.complete" ]; then
    echo "python-env: creating $cache with $requirements"
    rm -rf "$cache"
    "$python" -m venv "$cache"
    # One retry: an unreachable default index (an offline mirror setup) fails fast.
    "$cache/bin/python" -m pip install --quiet --disable-pip-version-check --retries 1 \
      --only-binary=:all: -r "$requirements"
    "$cache/bin/python" -m pip check
    touch "$cache/.complete"
  fi
) 9>"$cache.lock"
# Replaces a venv built in place by an older version of this script, or a stale link.
rm -rf "$venv"
ln -s "$cache" "$venv"
echo "python-env: $venv -> $cache"
