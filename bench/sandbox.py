"""How long `backorder sandbox` takes to be ready: `python -m bench.sandbox`.

Why: the demo, the end-to-end tests and a merchant trying the product all wait for both emulated
stores before anything else can happen; the goal is under 5 s with a 1,000-variant catalogue.
Timed from starting the process to its JSON line on stdout (imports, schema load, seeding, both
servers listening), five times; plus the in-process `start_both` alone, to tell start-up cost
from Python's own import time. Progress on stderr, one JSON line on stdout.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sandbox.run import start_both

RUNS = 5
VARIANTS = (1000, 10_000)
BACKORDER = str(Path(sys.executable).with_name("backorder"))


def process_ready(variants: int) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        [BACKORDER, "sandbox", "--variants", str(variants)], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        elapsed = time.perf_counter() - start
        if set(json.loads(line)) != {"shopify", "woocommerce"}:
            raise SystemExit(f"unexpected line: {line!r}")
        return elapsed
    finally:
        process.terminate()
        process.wait(timeout=10)


def in_process(variants: int) -> float:
    start = time.perf_counter()
    sandboxes = start_both(variants=variants)
    elapsed = time.perf_counter() - start
    sandboxes.stop()
    return elapsed


def summary(runs: list[float]) -> dict[str, float]:
    return {"best": round(min(runs), 3), "median": round(statistics.median(runs), 3)}


def main() -> None:
    figures: dict[str, dict[str, dict[str, float]]] = {"process_ready": {}, "start_both": {}}
    for variants in VARIANTS:
        ready = summary([process_ready(variants) for _ in range(RUNS)])
        inner = summary([in_process(variants) for _ in range(RUNS)])
        figures["process_ready"][str(variants)] = ready
        figures["start_both"][str(variants)] = inner
        print(f"{variants:>6} variants: ready {ready}, start_both {inner}", file=sys.stderr)
    goal = figures["process_ready"]["1000"]["median"] < 5.0
    print(json.dumps({"runs": RUNS, **figures, "goals": {"ready_1000_under_5s": goal}}))


if __name__ == "__main__":
    main()
