"""Ceiling and server candidates, side by side with the service, interleaved (issue 11).

    .venv/bin/python bench/candidates.py                      # BENCH_SET=ceiling (SQLite)
    BENCH_SET=server .venv/bin/python bench/candidates.py     # HTTP servers, JSON, log line
    BENCH_SET=postgres BENCH_DATABASES=postgres .venv/bin/python bench/candidates.py
    BENCH_VARIANTS="ours;c-group;c-group+granian" ...         # any list

Every variant's server runs at once (pinned to CPU 0; wrk on CPU 1) on one database made
through our API as `make bench` makes it. For each scenario and connection count, each round
runs every variant once (1 s warm-up, BENCH_SECONDS measured), the order rotating between
rounds, so variants are measured seconds apart. Reported: median req/s, p50, p99, and the
median over rounds of the per-round ratio `ours / variant`.

Variants: `ours` (`threads-api serve`), `ours+granian` (our app under granian, no limits of
our own), and `c-MODE[+orjson][+batchlog][+nolog][+granian][+fastapi]`: bench/ceiling.py with
CEILING_MODE=MODE (inline, thread, hybrid, group, aiosqlite; any for PostgreSQL); `+fastapi`
serves the same handler through FastAPI (bench/ceiling_fastapi.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    Server,
    fresh_database,
    log,
    machine,
    start_ceiling,
    start_ours,
    start_ours_on,
    wrk,
)

import bench as b

SETS = {
    "ceiling": "ours;c-aiosqlite;c-thread;c-inline;c-hybrid;c-group",
    "server": (
        "ours;ours+granian;c-hybrid;c-hybrid+granian;c-hybrid+orjson;c-hybrid+batchlog;"
        "c-hybrid+nolog"
    ),
    "postgres": "ours;c-pg;c-pg+granian",
    # Group commit against one fsync per request (the first variant is the reference here).
    "group": "c-hybrid;c-group;c-inline;c-thread;c-aiosqlite;ours",
    # What FastAPI and JSON choices cost on top of the ceiling's work.
    "framework": "ours;c-group;c-group+fastapi;c-group+orjson",
}
SET = os.environ.get("BENCH_SET", "ceiling")
VARIANTS = os.environ.get("BENCH_VARIANTS", SETS[SET]).split(";")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS_LIST", "10 32").split()]
KIND = os.environ.get("BENCH_DATABASES", "postgres" if SET == "postgres" else "sqlite").split()[0]
WANTED = ["GET thread", "GET 50 messages", "GET 50 threads", "POST message", "POST thread+message"]


def start(variant: str, db: Any, label: str) -> Server:
    name, *flags = variant.split("+")
    server = "granian" if "granian" in flags else "uvicorn"
    if name == "ours":
        if server == "granian":
            return start_ours_on(db, label, "granian", name=variant)
        return start_ours(db, label)
    env = {
        "CEILING_MODE": name.removeprefix("c-"),
        "CEILING_JSON": "orjson" if "orjson" in flags else "json",
        "CEILING_LOG": "batch" if "batchlog" in flags else "off" if "nolog" in flags else "line",
    }
    module = "ceiling_fastapi" if "fastapi" in flags else "ceiling"
    return start_ceiling(db, label, env, server=server, name=variant, module=module)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"machine: {machine()}")
    log(f"set {SET}: {VARIANTS}, {SECONDS}s x {ROUNDS} rounds, connections {CONNECTIONS}")
    wanted = os.environ.get("BENCH_SCENARIOS")
    names = [w.strip() for w in wanted.split(",")] if wanted else WANTED
    results: dict[str, Any] = {}
    servers: dict[str, Server] = {}
    with fresh_database(KIND, f"candidates-{SET}") as db:
        seed = start_ours(db, f"candidates-{SET}-seed")
        try:
            fixture = b.prepare(seed.base)
        finally:
            seed.stop()
        scenarios = [s for s in b.scenarios(fixture) if s.name in names]
        scenarios.sort(key=lambda s: names.index(s.name))
        try:
            for variant in VARIANTS:
                servers[variant] = start(variant, db, f"candidates-{SET}")
            for s in scenarios:
                for server in servers.values():
                    b.preflight(server, s)
                for connections in CONNECTIONS:
                    cell: dict[str, list[Any]] = {v: [] for v in VARIANTS}
                    for round_no in range(ROUNDS):
                        shift = round_no % len(VARIANTS)
                        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                            cell[variant].append(
                                measure(servers[variant], s, connections, f"{round_no}")
                            )
                    results[f"{s.name} @{connections}"] = cell
                    report_cell(s.name, connections, cell)
        finally:
            for server in servers.values():
                server.stop()
    text = table(results)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"candidates-{SET}-{KIND}-{stamp}.md").write_text(text + "\n")
    (OUT / f"candidates-{SET}-{KIND}-{stamp}.json").write_text(json.dumps(results, indent=2))
    log(f"written bench/out/candidates-{SET}-{KIND}-{stamp}.md and .json")
    for variant, server in servers.items():
        tail = server.log_path.read_text(errors="replace").splitlines()[-1:]
        if tail and "group commit" in tail[0]:
            log(f"{variant}: {tail[0]}")
    return 0


def measure(server: Server, s: b.Scenario, connections: int, tag: str) -> dict[str, float]:
    key = f"{s.key}{server.name}-{connections}-{tag}-"
    args: dict[str, Any] = dict(connections=connections, mode=s.mode, body=s.body)
    warm_key = key + "w" if s.mode == "unique" else s.key
    wrk(server.base, s.method, s.path, seconds=1, key=warm_key, **args)
    cpu = server.cpu_seconds()
    run_key = key if s.mode == "unique" else s.key
    r = wrk(server.base, s.method, s.path, seconds=SECONDS, key=run_key, **args)
    cpu_us = (server.cpu_seconds() - cpu) * 1e6 / max(1, r.requests)
    if r.errors:
        log(f"WARNING {server.name} {s.name}: {r.raw}")
    return {"rps": r.rps, "p50": r.p50_ms, "p99": r.p99_ms, "errors": r.errors, "cpu": cpu_us}


def summary(cell: dict[str, list[Any]], variant: str) -> dict[str, float]:
    """Medians over rounds; `ratio`: ours / variant in req/s, `cpu_ratio`: the variant's CPU
    per request / ours (the fraction of our cost that the work needs), both per round."""
    runs, ours = cell[variant], cell[VARIANTS[0]]
    ratios = [o["rps"] / v["rps"] for o, v in zip(ours, runs, strict=True) if v["rps"]]
    cpu_ratios = [v["cpu"] / o["cpu"] for o, v in zip(ours, runs, strict=True) if o["cpu"]]
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "ratio": statistics.median(ratios) if ratios else 0.0,
        "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else 0.0,
        "errors": sum(r["errors"] for r in runs),
    }


def report_cell(name: str, connections: int, cell: dict[str, list[Any]]) -> None:
    parts = []
    for variant in VARIANTS:
        m = summary(cell, variant)
        parts.append(
            f"{variant} {m['rps']:.0f}/s {m['cpu']:.0f}us p99 {m['p99']:.1f}ms "
            f"({m['ratio']:.2f}/{m['cpu_ratio']:.2f})"
        )
    log(f"{name} @{connections}: " + ", ".join(parts))


def table(results: dict[str, Any]) -> str:
    lines = [
        f"## Candidates ({SET}, {KIND}), median of {ROUNDS} interleaved rounds of {SECONDS} s",
        "",
        "Each cell: req/s, server CPU µs per request, p50 / p99 ms; "
        f"[{VARIANTS[0]}/variant by req/s; by CPU per request]",
        "",
        "| scenario @conns | " + " | ".join(VARIANTS) + " |",
        "|---|" + "---|" * len(VARIANTS),
    ]
    for key, cell in results.items():
        cells = []
        for variant in VARIANTS:
            m = summary(cell, variant)
            ratio = "" if variant == VARIANTS[0] else f" [{m['ratio']:.2f}; {m['cpu_ratio']:.2f}]"
            errors = " errors!" if m["errors"] else ""
            cells.append(
                f"{m['rps']:.0f}/s, {m['cpu']:.0f} µs, {m['p50']:.1f} / {m['p99']:.1f}"
                f"{ratio}{errors}"
            )
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
