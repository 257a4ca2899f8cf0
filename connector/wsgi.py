"""WSGI entry for gunicorn and other servers: `gunicorn connector.wsgi:app`."""

from __future__ import annotations

from connector.config import load_settings
from connector.logs import configure_logging
from connector.runtime import build_runtime
from connector.web import create_app

settings = load_settings()
configure_logging(settings.LOG_LEVEL)
app = create_app(build_runtime(settings))
