"""Webhook intake under load, against the production server: `python -m bench.webhooks`.

Why: Shopify gives up on an endpoint that answers slowly or not at all, so the intake must
acknowledge fast under bursts, and what it acknowledges must be processed exactly once. Issue 6's
goals: ack throughput at least half a bare route's in the same server; p99 ack latency under
100 ms at 200 deliveries/s; zero deliveries lost, zero processed twice.

How: a fresh database (SQLite file, or with `--postgres URL` a database created on that server
and dropped afterwards), migrated and seeded with a Shopify shop whose variants match the
payloads (bench.shopify_orders). Then `python -m bench.webhook_server`: `backorder serve` as
deployed (waitress, 8 threads, WORKER_THREADS job threads in the same process, no Redis) plus
`POST /bench/bare`, which reads the body and answers 200: the ceiling. Each phase sends DELIVERIES
signed `orders/create` deliveries (7-9 KB bodies, 20 % of them a re-send of an earlier one with
the same X-Shopify-Webhook-Id), distinct orders in every phase:

1. bare, flat out: the same requests to /bench/bare with CLIENTS keep-alive connections;
2. at a fixed RATE per second, open loop (bench.loadgen): latency from each request's due time
   to its answer, so queueing behind a slow request is counted;
3. the webhook route flat out, CLIENTS connections; then the bare route again (the machine's
   speed drifts; the ratio is taken against the mean of both bare runs).

Before phases 3 and the second bare run, the job threads are let finish the backlog, so each
phase starts on an idle server; during a phase they process its deliveries alongside, as in
production. At the end: every distinct delivery must be `done` in the inbox exactly once, its
order stored once with its lines, and each line on an out-of-stock variant backordered exactly
once (one BackorderCreated each). The intake stores deliveries by group commit; the mean number
of deliveries per inbox commit in each webhook phase is read from the server's /metrics. The
client and the server share this machine's 2 cores; the CPU each used (and PostgreSQL's,
workers', other processes') is printed, so a client-bound or crowded-machine figure shows as such.
`--quick` sends 1,000 per phase; `--redis URL` runs the scaled layout instead (jobs on Redis,
`--workers` `backorder worker` processes; the URL's database must hold no queued jobs);
`--profile PATH` writes a cProfile of the server's request threads. Readable figures go to
stderr; stdout gets one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, make_url, select, text

from bench import loadgen
from bench.shopify_orders import SECRET, Batch, batch, seed_shop, short
from connector.config import load_settings
from connector.migrate import upgrade
from connector.models import Backorder, DomainEvent, Order, OrderLine, WebhookEvent
from connector.runtime import Runtime, build_runtime

DELIVERIES = 10_000
QUICK = 1_000
DUPLICATE_SHARE = 0.2
RATE = 200.0
RATE_CONNECTIONS = 64  # so a few slow answers never hold back the next due request
CLIENTS = 8  # flat out: as many connections as the server has request threads
WARM_UP = 100
DRAIN_TIMEOUT_SECONDS = 1800
HOST = "127.0.0.1"
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str = "") -> None:
    print(message, file=sys.stderr, flush=True)


# ---- database and server -------------------------------------------------------------------


@contextmanager
def fresh_database(postgres: str | None) -> Iterator[str]:
    """A new empty database's URL: a SQLite file, or a database made on the given server."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = make_url(postgres).set(drivername="postgresql+psycopg")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"bench_webhooks_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def environment(database_url: str, redis_url: str | None) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + "s" * 42,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SHOPIFY_API_SECRET": SECRET,
        # Without Redis, the embedded deployment: job threads in the serving process.
        "REDIS_URL": redis_url or "",
        "LOG_LEVEL": "WARNING",
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(env: dict[str, str], port: int, log_path: Path, profile: str | None) -> Iterator[int]:
    """`python -m bench.webhook_server` on `port`; yields its pid once /healthz answers."""
    command = [sys.executable, "-m", "bench.webhook_server", "--host", HOST, "--port", str(port)]
    if profile:
        command += ["--profile", profile]
    with log_path.open("wb") as errors:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=errors, stderr=errors)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start:\n{log_path.read_text()}")
                try:
                    requests.get(f"http://{HOST}:{port}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            yield process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def workers(env: dict[str, str], count: int, log_dir: Path) -> Iterator[list[int]]:
    """`backorder worker` processes on the Redis queue (none without Redis); yields their pids."""
    if not env["REDIS_URL"] or count == 0:
        yield []
        return
    import redis
    import rq

    from connector.jobs import QUEUE_NAME

    with redis.Redis.from_url(env["REDIS_URL"]) as connection:
        waiting = rq.Queue(QUEUE_NAME, connection=connection).count
    if waiting:
        raise SystemExit(f"the Redis queue {QUEUE_NAME!r} already holds {waiting} jobs")
    command = [str(Path(sys.executable).with_name("backorder")), "worker"]
    processes = [
        subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=(log_dir / f"worker-{number}.log").open("wb"),
        )
        for number in range(count)
    ]
    try:
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu() -> float:
    """CPU seconds used so far by the machine's PostgreSQL processes (other clients' too)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if text.split(" (", 1)[1].startswith("postgres)"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def machine_idle() -> float:
    """Idle CPU seconds of the whole machine so far, summed over cores."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return (int(fields[4]) + int(fields[5])) / TICKS


# ---- phases ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measured(
    pids: list[int], label: str, run: Callable[[], loadgen.Run]
) -> tuple[loadgen.Run, dict[str, float]]:
    """Run and time one phase; the CPU of the server (and any workers: `pids[1:]`) with it."""
    before = [process_cpu(pid) for pid in pids]
    idle_before, postgres_before = machine_idle(), postgres_cpu()
    result = run()
    postgres = postgres_cpu() - postgres_before
    used = [process_cpu(pid) - start for pid, start in zip(pids, before, strict=True)]
    server_cpu, idle = used[0], machine_idle() - idle_before
    if result.failures:
        statuses = sorted({s for s in result.statuses if s != 200})
        raise SystemExit(f"{label}: {result.failures} requests failed (statuses {statuses})")
    cores = os.cpu_count() or 1
    cpu = {
        "seconds": round(result.elapsed, 3),
        "server_cores": round(server_cpu / result.elapsed, 2),
        "client_cores": round(result.client_cpu / result.elapsed, 2),
        "idle_cores": round(idle / result.elapsed, 2),
    }
    # Whatever else ran on the machine meanwhile (other processes' work competes for the cores).
    others = cores - cpu["idle_cores"] - cpu["server_cores"] - cpu["client_cores"]
    if len(pids) > 1:
        cpu["worker_cores"] = round(sum(used[1:]) / result.elapsed, 2)
        others -= cpu["worker_cores"]
    if postgres > 0:
        cpu["postgres_cores"] = round(postgres / result.elapsed, 2)
        others -= cpu["postgres_cores"]
    cpu["other_cores"] = round(max(0.0, others), 2)
    log(
        f"{label}: {len(result.statuses)} requests in {result.elapsed:.2f} s "
        f"({result.throughput:.0f}/s); CPU cores busy: server {cpu['server_cores']}, "
        f"client {cpu['client_cores']}, workers {cpu.get('worker_cores', '-')}, "
        f"PostgreSQL {cpu.get('postgres_cores', '-')}, other processes {cpu['other_cores']}, "
        f"idle {cpu['idle_cores']} of {cores}"
    )
    return result, cpu


def inbox_batches(port: int) -> tuple[float, float]:
    """Deliveries and commits of the server's inbox writer so far (its group-commit histogram)."""
    text = requests.get(f"http://{HOST}:{port}/metrics", timeout=10).text
    found = {"_sum": 0.0, "_count": 0.0}
    for line in text.splitlines():
        if line.startswith("backorder_webhooks_inbox_batch_size_"):
            name, _, value = line.partition(" ")
            suffix = name.removeprefix("backorder_webhooks_inbox_batch_size")
            if suffix in found:
                found[suffix] = float(value)
    return found["_sum"], found["_count"]


def mean_batch(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    commits = after[1] - before[1]
    return round((after[0] - before[0]) / commits, 2) if commits else None


def inbox_states(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)
        ).all()
    return {state: count for state, count in rows}


def drain(runtime: Runtime, label: str) -> float:
    """Wait until no delivery is left `received`; returns the seconds it took."""
    start = time.perf_counter()
    while (waiting := inbox_states(runtime).get("received", 0)) > 0:
        if time.perf_counter() - start > DRAIN_TIMEOUT_SECONDS:
            raise SystemExit(f"{label}: {waiting} deliveries still waiting after the timeout")
        time.sleep(0.5)
    seconds = time.perf_counter() - start
    log(f"  processing caught up {seconds:.1f} s after the last answer ({label})")
    return seconds


# ---- exactly once ----------------------------------------------------------------------------


def exactly_once(runtime: Runtime, batches: list[Batch]) -> dict[str, Any]:
    """Compare what the database holds with what was sent, delivery by delivery."""
    distinct = [d for b in batches for d in b.distinct]
    lines = sum(len(d.variants) for d in distinct)
    short_lines = sum(short(v) for d in distinct for v in d.variants)
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(WebhookEvent.dedupe_key, WebhookEvent.state, WebhookEvent.attempts)
        ).all()
        stored_orders = session.scalar(select(func.count()).select_from(Order)) or 0
        stored_lines = session.scalar(select(func.count()).select_from(OrderLine)) or 0
        backorders = session.execute(
            select(func.count(), func.count(func.distinct(Backorder.order_line_id)))
        ).one()
        short_units = session.scalar(select(func.sum(Backorder.quantity))) or 0
        created = [
            payload["line_id"]
            for (payload,) in session.execute(
                select(DomainEvent.payload).where(DomainEvent.name == "BackorderCreated")
            )
            for payload in payload["events"]
        ]
    done_keys = {key for key, state, _ in rows if state == "done"}
    sent_keys = {f"shopify:{d.webhook_id}" for d in distinct}
    return {
        "distinct": len(distinct),
        "inbox_rows": len(rows),
        "done": len(done_keys & sent_keys),
        "states": dict(sorted(_count(state for _, state, _ in rows).items())),
        "retried": sum(attempts > 1 for _, _, attempts in rows),
        "lost": len(sent_keys - done_keys),
        "doubled": (len(rows) - len({key for key, _, _ in rows}))
        + max(0, stored_orders - len(distinct))
        + max(0, stored_lines - lines)
        + (backorders[0] - backorders[1])
        + (len(created) - len(set(created))),
        "orders": {"expected": len(distinct), "stored": stored_orders},
        "lines": {"expected": lines, "stored": stored_lines},
        "backorders": {
            "expected": short_lines,
            "rows": backorders[0],
            "lines": backorders[1],
            "units": int(short_units),
            "created_events": len(created),
        },
    }


def _count(items: Iterator[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def consistent(check: dict[str, Any]) -> bool:
    backorders = check["backorders"]
    expected = backorders["expected"]
    return (
        check["done"] == check["distinct"] == check["inbox_rows"]
        and check["lost"] == 0
        and check["doubled"] == 0
        and check["orders"]["stored"] == check["orders"]["expected"]
        and check["lines"]["stored"] == check["lines"]["expected"]
        and backorders["rows"] == backorders["lines"] == backorders["units"] == expected
        and backorders["created_events"] == expected
    )


# ---- the run ---------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> dict[str, Any]:
    per_phase = QUICK if options.quick else options.deliveries
    log(f"building {3 * per_phase + WARM_UP} signed deliveries…")
    warm_up = batch(1_000_001, WARM_UP, DUPLICATE_SHARE, seed=1)
    steady = batch(2_000_001, per_phase, DUPLICATE_SHARE, seed=2)
    burst = batch(3_000_001, per_phase, DUPLICATE_SHARE, seed=3)
    sizes = [len(d.body) for d in steady.distinct]
    log(f"bodies {min(sizes)} to {max(sizes)} bytes, mean {statistics.mean(sizes):.0f}")
    with fresh_database(options.postgres) as url, tempfile.TemporaryDirectory() as tmp:
        env = environment(url, options.redis)
        runtime = build_runtime(load_settings(**{**env, "REDIS_URL": None}))
        try:
            upgrade(runtime.db.engine)
            seed_shop(runtime)
            port = free_port()
            host = f"{HOST}:{port}"
            server_log = Path(tmp) / "server.log"
            with (
                server(env, port, server_log, options.profile) as pid,
                workers(env, options.workers, Path(tmp)) as worker_pids,
            ):
                pids = [pid, *worker_pids]
                figures = phases(options, runtime, pids, port, host, warm_up, steady, burst)
                log("waiting for processing to finish…")
                figures["processing_tail_seconds"] = round(drain(runtime, "end"), 1)
            check = exactly_once(runtime, [warm_up, steady, burst])
        finally:
            runtime.db.dispose()
        errors = [line for line in server_log.read_text().splitlines() if "Traceback" in line]
        figures["server_tracebacks"] = len(errors)
    figures["exactly_once"] = check
    return figures


def phases(
    options: argparse.Namespace,
    runtime: Runtime,
    pids: list[int],
    port: int,
    host: str,
    warm_up: Batch,
    steady: Batch,
    burst: Batch,
) -> dict[str, Any]:
    def webhook_requests(b: Batch) -> list[bytes]:
        return [d.request("/webhooks/shopify", host) for d in b.deliveries]

    bare_requests = [d.request("/bench/bare", host) for d in burst.deliveries]
    steady_requests, burst_requests = webhook_requests(steady), webhook_requests(burst)
    clients = options.clients
    loadgen.flat_out(HOST, port, bare_requests[:500], clients)
    loadgen.flat_out(HOST, port, webhook_requests(warm_up), 4)
    drain(runtime, "warm-up")

    bare_first, bare_first_cpu = measured(
        pids, "bare, flat out", lambda: loadgen.flat_out(HOST, port, bare_requests, clients)
    )
    batches_before = inbox_batches(port)
    rate, rate_cpu = measured(
        pids,
        f"webhooks at {RATE:.0f}/s",
        lambda: loadgen.at_rate(HOST, port, steady_requests, RATE, RATE_CONNECTIONS),
    )
    batches_rate = inbox_batches(port)
    rate_drain = drain(runtime, "fixed rate")
    batches_flat_before = inbox_batches(port)
    flat, flat_cpu = measured(
        pids, "webhooks, flat out", lambda: loadgen.flat_out(HOST, port, burst_requests, clients)
    )
    batches_flat = inbox_batches(port)
    log(
        f"  deliveries per inbox commit: {mean_batch(batches_before, batches_rate)} at the fixed "
        f"rate, {mean_batch(batches_flat_before, batches_flat)} flat out"
    )
    flat_drain = drain(runtime, "flat out")
    bare_again, bare_again_cpu = measured(
        pids, "bare, flat out again", lambda: loadgen.flat_out(HOST, port, bare_requests, clients)
    )
    bare = statistics.mean([bare_first.throughput, bare_again.throughput])
    return {
        "fixed_rate": {
            "target_per_s": RATE,
            "achieved_per_s": round(rate.throughput, 1),
            "p50_ms": ms(percentile(rate.latencies, 0.50)),
            "p90_ms": ms(percentile(rate.latencies, 0.90)),
            "p99_ms": ms(percentile(rate.latencies, 0.99)),
            "max_ms": ms(max(rate.latencies)),
            "late_send_p99_ms": ms(percentile(rate.late_sends, 0.99)),
            "deliveries_per_commit": mean_batch(batches_before, batches_rate),
            "cpu": rate_cpu,
            "processing_tail_seconds": round(rate_drain, 1),
        },
        "flat_out": {
            "clients": clients,
            "webhooks_per_s": round(flat.throughput, 1),
            "webhooks_p50_ms": ms(percentile(flat.latencies, 0.50)),
            "webhooks_p99_ms": ms(percentile(flat.latencies, 0.99)),
            "bare_per_s": [round(bare_first.throughput, 1), round(bare_again.throughput, 1)],
            "ratio": round(flat.throughput / bare, 3),
            "deliveries_per_commit": mean_batch(batches_flat_before, batches_flat),
            "cpu": {"webhooks": flat_cpu, "bare": [bare_first_cpu, bare_again_cpu]},
            "processing_tail_seconds": round(flat_drain, 1),
        },
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def report(figures: dict[str, Any], database: str) -> None:
    rate, flat, check = figures["fixed_rate"], figures["flat_out"], figures["exactly_once"]
    goals = figures["goals"]
    log()
    log(f"== bench.webhooks on {database}, {figures['deliveries_per_phase']} deliveries a phase ==")
    log(f"load average (1 min) before and after: {figures['load_average_1min']}")
    log(
        f"ack throughput flat out ({flat['clients']} clients): {flat['webhooks_per_s']}/s vs "
        f"bare {flat['bare_per_s']}/s: ratio {flat['ratio']} (goal ≥ 0.5: "
        f"{'met' if goals['ratio_at_least_0_5'] else 'MISSED'})"
    )
    log(
        f"ack latency at {rate['target_per_s']:.0f}/s (achieved {rate['achieved_per_s']}/s): "
        f"p50 {rate['p50_ms']} ms, p99 {rate['p99_ms']} ms, max {rate['max_ms']} ms (goal p99 "
        f"< 100 ms: {'met' if goals['p99_under_100ms_at_200_per_s'] else 'MISSED'})"
    )
    log(
        f"processed exactly once: {check['done']} of {check['distinct']} distinct deliveries; "
        f"lost {check['lost']}, doubled {check['doubled']}; backorders {check['backorders']} "
        f"({'met' if goals['zero_lost_zero_doubled'] else 'MISSED'})"
    )
    log(
        "client and server share the machine's 2 cores: the CPU figures above say how much "
        "each took (a client near a full core would make these figures the client's, not the "
        "server's)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} deliveries a phase")
    parser.add_argument("--deliveries", type=int, default=DELIVERIES, help="a phase's deliveries")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="connections flat out")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to use")
    parser.add_argument("--redis", metavar="URL", help="queue on Redis, run `backorder worker`s")
    parser.add_argument("--workers", type=int, default=2, help="worker processes with --redis")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the server's request threads")
    options = parser.parse_args()
    database = ("postgresql" if options.postgres else "sqlite") + (
        f" + Redis, {options.workers} workers" if options.redis else ""
    )
    load_before = os.getloadavg()[0]
    figures = {
        "database": database,
        "deliveries_per_phase": QUICK if options.quick else options.deliveries,
        "duplicate_share": DUPLICATE_SHARE,
        **run(options),
    }
    figures["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    figures["goals"] = {
        "ratio_at_least_0_5": figures["flat_out"]["ratio"] >= 0.5,
        "p99_under_100ms_at_200_per_s": figures["fixed_rate"]["p99_ms"] < 100,
        "zero_lost_zero_doubled": consistent(figures["exactly_once"]),
    }
    report(figures, database)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
