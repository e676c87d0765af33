#!/usr/bin/env bash
# The test command: installs kurir and what its tests need into .venv, then runs the
# linters and the whole suite on SQLite and PostgreSQL (127.0.0.1:5432, user postgres;
# set KURIR_TEST_PG to use another server) and the web app's tests in Debian's chromium,
# installed here when missing. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/mypy kurir
# the web app's end-to-end tests drive Debian's chromium (never a browser Playwright downloads)
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
.venv/bin/python -m pytest "$@"
