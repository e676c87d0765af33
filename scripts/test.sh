#!/usr/bin/env bash
# The test command: installs kurir and what its tests need into .venv, then runs the
# linters and the whole suite on SQLite and PostgreSQL (127.0.0.1:5432, user postgres;
# set KURIR_TEST_PG to use another server). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/mypy kurir
.venv/bin/python -m pytest "$@"
