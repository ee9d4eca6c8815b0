"""Measure candidate optimisations before they are made: bench/patched_serve.py variants.

    .venv/bin/python bench/experiments.py            # SQLite, default variants
    BENCH_VARIANTS="base;nocache;noreset,nospacecheck,nolog" ...

Every variant runs on the same database, pinned like `make bench`, in rounds whose order
rotates; the median req/s per scenario is compared with the unpatched server ("base").
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, OUT, fresh_database, log, start_ours, wrk

import bench as b

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
KIND = os.environ.get("BENCH_DATABASES", "sqlite").split()[0]
ALL = "noreset,nospacecheck,idemlean,nolog"
VARIANTS = os.environ.get(
    "BENCH_VARIANTS",
    f"base;nocache;nolog;noreset;nospacecheck,idemlean;{ALL}",
).split(";")
WANTED = ("POST message", "GET thread", "GET 50 messages")


def main() -> None:
    results: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    with fresh_database(KIND, "experiments") as db:
        seed = start_ours(db, "experiments-seed")
        try:
            fixture = b.prepare(seed.base)
        finally:
            seed.stop()
        targets = [s for s in b.scenarios(fixture) if s.name in WANTED]
        for round_no in range(ROUNDS):
            order = VARIANTS[round_no % len(VARIANTS) :] + VARIANTS[: round_no % len(VARIANTS)]
            for variant in order:
                patches = "" if variant == "base" else variant
                server = start_ours(
                    db,
                    f"experiments-{variant.replace(',', '+')}",
                    {"BENCH_PATCHES": patches},
                    command=[sys.executable, str(BENCH / "patched_serve.py")],
                )
                try:
                    for s in targets:
                        b.preflight(server, s)
                        wrk(
                            server.base,
                            s.method,
                            s.path,
                            seconds=1,
                            connections=b.CONNECTIONS,
                            mode=s.mode,
                            body=s.body,
                            key=f"{s.key}x{round_no}{variant}w-" if s.mode == "unique" else s.key,
                        )
                        r = wrk(
                            server.base,
                            s.method,
                            s.path,
                            seconds=SECONDS,
                            connections=b.CONNECTIONS,
                            mode=s.mode,
                            body=s.body,
                            key=f"{s.key}x{round_no}{variant}-" if s.mode == "unique" else s.key,
                        )
                        results[variant].setdefault(s.name, []).append(r.rps)
                        log(
                            f"round {round_no} {variant:>40} {s.name}: {r.rps:.0f}/s "
                            f"p50 {r.p50_ms:.1f} ms" + (" ERRORS" if r.errors else "")
                        )
                finally:
                    server.stop()
    lines = [
        f"## Candidate optimisations ({KIND}; median req/s of {ROUNDS} x {SECONDS}s)",
        "",
        "| variant | " + " | ".join(WANTED) + " |",
        "|---|" + "---|" * len(WANTED),
    ]
    reference = "base" if "base" in results else VARIANTS[0]
    base = {name: statistics.median(v) for name, v in results[reference].items()}
    for variant in VARIANTS:
        cells = []
        for name in WANTED:
            m = statistics.median(results[variant][name])
            cells.append(f"{m:.0f} ({m / base[name]:.2f}x)")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print("\n" + text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"experiments-{KIND}-{stamp}.md").write_text(text + "\n")
    (OUT / f"experiments-{KIND}-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
