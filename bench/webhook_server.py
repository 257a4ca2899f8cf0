"""`backorder serve` plus a bare route, for bench.webhooks: `python -m bench.webhook_server`.

Why: the ceiling the webhook intake is compared with must be served by the same server in the
same process layout (waitress, the same threads, the in-process job threads working the queue),
so the only difference measured is the intake's own work. This runs `connector.cli.serve_app`,
configured from the environment exactly as `backorder serve` is, with one extra route:
`POST /bench/bare` reads the body and answers 200. The scheduler runs (due retries and
stragglers back on the queue) but not the reconciliation sync: the benchmark's shop is not a
real store.

`--profile PATH` profiles the request threads only (each waitress thread its own cProfile,
enabled around the request), and writes the merged statistics to PATH when the server stops
(SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request

from connector.cli import load_runtime, serve_app

BARE_PATH = "/bench/bare"


def bare() -> Response:
    request.get_data()
    return Response(status=200)


class ProfiledRequests:
    """WSGI middleware: one profiler per request thread, merged into one file at the end."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.local = threading.local()
        self.profilers: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        profiler = getattr(self.local, "profiler", None)
        if profiler is None:
            profiler = self.local.profiler = cProfile.Profile()
            with self.lock:
                self.profilers.append(profiler)
        profiler.enable()
        try:
            return list(self.app(environ, start_response))  # the whole body inside the timer
        finally:
            profiler.disable()

    def dump(self, path: str) -> None:
        with self.lock:
            profilers = list(self.profilers)
        if profilers:
            stats = pstats.Stats(profilers[0])
            for profiler in profilers[1:]:
                stats.add(profiler)
            stats.dump_stats(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=8)  # `backorder serve`'s default
    parser.add_argument("--profile", metavar="PATH", help="profile the request threads")
    options = parser.parse_args()
    profiled: list[ProfiledRequests] = []

    def add_routes(app: Flask) -> None:
        app.add_url_rule(BARE_PATH, "bench_bare", bare, methods=["POST"])
        if options.profile:
            profiled.append(ProfiledRequests(app.wsgi_app))
            app.wsgi_app = profiled[0]  # type: ignore[method-assign]

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)  # unwinds waitress so serve_app's clean-up runs

    signal.signal(signal.SIGTERM, stop)
    runtime = load_runtime()
    try:
        serve_app(
            runtime,
            options.host,
            options.port,
            options.threads,
            scheduler=True,
            sync=False,
            add_routes=add_routes,
        )
    finally:
        if profiled:
            profiled[0].dump(options.profile)
        runtime.db.dispose()
        print("server stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
