#!/usr/bin/env bash
# `make bench`: the Threads API against bench/ceiling.py, on SQLite then PostgreSQL.
# Settings come from the environment; see bench/bench.py (BENCH_SECONDS, BENCH_SMOKE=1, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "[bench] installing wrk" >&2
    apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
    apt_get install -y wrk >/dev/null 2>&1 || { apt_get update >/dev/null && apt_get install -y wrk >/dev/null; }
fi
command -v taskset >/dev/null 2>&1 || echo "[bench] taskset missing: running unpinned" >&2

PYTHON="${PYTHON:-.venv/bin/python}"
if [ "${1:-}" = "--scale" ]; then
    shift
    exec "$PYTHON" bench/bulk_load.py "$@"
fi
exec "$PYTHON" bench/bench.py "$@"
