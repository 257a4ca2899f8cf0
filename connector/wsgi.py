"""WSGI entry for gunicorn and other servers: `gunicorn connector.wsgi:app`.

With REDIS_URL set, jobs go to Redis and `backorder worker` processes run them. Without it,
each server process runs its own job threads, as `backorder serve` does, so nothing waits forever.
"""

from __future__ import annotations

from connector import jobs
from connector.config import load_settings
from connector.logs import configure_logging
from connector.runtime import build_runtime
from connector.web import create_app

settings = load_settings()
configure_logging(settings.LOG_LEVEL)
runtime = build_runtime(settings)
app = create_app(runtime)
if isinstance(runtime.jobs, jobs.InProcessQueue):
    runtime.jobs.start(settings.WORKER_THREADS)
    jobs.requeue(runtime, everything=True)
