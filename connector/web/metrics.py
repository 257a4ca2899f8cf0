"""HTTP metrics per route template (never per raw path: ids would explode the label set)."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "backorder_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "backorder_http_request_duration_seconds", "Time to answer an HTTP request", ["route"]
)


def instrument(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        # A duration, not a time of day: perf_counter is monotonic and never read as a date.
        g.request_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        started = g.pop("request_started", None)
        if started is not None:
            LATENCY.labels(route).observe(time.perf_counter() - started)
        return response
