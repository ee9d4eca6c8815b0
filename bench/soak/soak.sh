#!/usr/bin/env bash
# `make soak`: wrk against a real `threads-api serve`, 70/30 reads/writes, for SOAK_SECONDS.
# Prints 2xx/4xx/5xx, p50/p99, the server's RSS and open fds at start, every
# SOAK_SAMPLE_SECONDS (30) and at the end, and checks that
# the database holds exactly one row per 201 received. Exits non-zero on any 5xx or mismatch.
#   SOAK_SECONDS (30)  SOAK_CONNECTIONS (16)  SOAK_DATABASE_URL (a fresh SQLite file)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
SECONDS_TO_RUN="${SOAK_SECONDS:-30}"
CONNECTIONS="${SOAK_CONNECTIONS:-16}"
WORK="$(mktemp -d /tmp/threads-soak.XXXXXX)"
DATABASE_URL="${SOAK_DATABASE_URL:-sqlite+aiosqlite:///$WORK/soak.db}"
KEY="tk_soak_admin_secret_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi

# One core for the server, one for wrk, when taskset is there (2-core machines).
PIN_SERVER=(); PIN_WRK=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_WRK=(taskset -c 1)
fi

(cd "$WORK" && THREADS_API_DATABASE_URL="$DATABASE_URL" THREADS_API_ADMIN_KEY="$KEY" \
  exec "${PIN_SERVER[@]}" "$ROOT/.venv/bin/threads-api" serve --port "$PORT" \
  >"$WORK/server.log" 2>&1) &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done

api() { curl -fsS -H "X-API-Key: $KEY" -H "Content-Type: application/json" "$@"; }
SPACE="$(api -X POST "$URL/v1/spaces" -d '{"name":"soak"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
PATHS=""
for i in 1 2 3 4; do
  THREAD="$(api -X POST "$URL/v1/spaces/$SPACE/threads/messages" -d "{\"content\":\"seed $i\"}" \
    | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["thread"]["id"])')"
  PATHS="$PATHS${PATHS:+,}/v1/spaces/$SPACE/threads/$THREAD/messages"
done

usage() { echo "rss_kb=$(ps -o rss= -p "$SERVER" | tr -d ' ') open_fds=$(ls "/proc/$SERVER/fd" | wc -l)"; }
echo "server pid $SERVER  database $DATABASE_URL  ${SECONDS_TO_RUN}s  $CONNECTIONS connections"
echo "START $(usage)"
# Memory under load, every SOAK_SAMPLE_SECONDS: growth shows as a rising rss_kb.
(
  started=$(date +%s)
  while sleep "${SOAK_SAMPLE_SECONDS:-30}"; do
    echo "  t+$(($(date +%s) - started))s $(usage)"
  done
) >"$WORK/usage.txt" 2>/dev/null &
SAMPLER=$!
SOAK_PATHS="$PATHS" SOAK_KEY="$KEY" SOAK_PENDING="$WORK/pending.txt" \
  "${PIN_WRK[@]}" wrk -t 2 -c "$CONNECTIONS" -d "${SECONDS_TO_RUN}s" --timeout 10s --latency \
  -s "$ROOT/bench/soak/soak.lua" "$URL" | tee "$WORK/wrk.txt" | grep -E '^(SOAK|Running|  [0-9]+ threads)'
kill "$SAMPLER" 2>/dev/null || true
cat "$WORK/usage.txt"
echo "END   $(usage)"

# Writes cut off when wrk stopped have an unknown outcome: retry each with its own key.
RETRIED=0
while read -r key; do
  [ -n "$key" ] || continue
  index="${key#soak-}"; index="${index%%-*}"
  path="$(echo "$PATHS" | cut -d, -f"$index")"
  status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $KEY" \
    -H "Content-Type: application/json" -H "Idempotency-Key: $key" \
    -d "{\"content\":\"$key\"}" "$URL$path")"
  [ "$status" = 201 ] || { echo "retry of $key: $status"; exit 1; }
  RETRIED=$((RETRIED + 1))
done <"$WORK/pending.txt"

CREATED="$(sed -n 's/.*created_201=\([0-9]*\).*/\1/p' "$WORK/wrk.txt")"
FIVE="$(sed -n 's/.* 5xx=\([0-9]*\).*/\1/p' "$WORK/wrk.txt")"
ROWS="$(SOAK_DATABASE_URL="$DATABASE_URL" "$PY" - "$SPACE" <<'PYEOF'
import asyncio, os, sqlite3, sys
from sqlalchemy.engine import make_url
url, space = make_url(os.environ["SOAK_DATABASE_URL"]), sys.argv[1]
sql = "SELECT count(*), count(DISTINCT content) FROM messages WHERE space_id = '%s' AND content LIKE 'soak-%%'" % space
if url.get_backend_name() == "sqlite":
    print(*sqlite3.connect(url.database).execute(sql).fetchone())
else:
    import asyncpg
    async def main():
        c = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        print(*await c.fetchrow(sql)); await c.close()
    asyncio.run(main())
PYEOF
)"
read -r ROW_COUNT DISTINCT <<<"$ROWS"
echo "DB rows=$ROW_COUNT distinct=$DISTINCT  201s received: wrk=$CREATED + retried cut-off writes=$RETRIED"
if [ "$FIVE" != 0 ] || [ "${CREATED:-0}" = 0 ] || [ "$ROW_COUNT" != "$DISTINCT" ] || [ "$ROW_COUNT" != "$((CREATED + RETRIED))" ]; then
  echo "SOAK FAILED"; tail -20 "$WORK/server.log"; exit 1
fi
echo "SOAK OK"
rm -rf "$WORK"
