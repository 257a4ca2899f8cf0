"""The Flask application factory: one runtime, blueprints per area, JSON errors for the API."""

from __future__ import annotations

from flask import Flask

from connector.runtime import Runtime
from connector.web.api import api_v1
from connector.web.dashboard import register_dashboard
from connector.web.errors import register_error_handlers
from connector.web.health import health
from connector.web.install import install
from connector.web.metrics import instrument
from connector.web.status import register_status
from connector.web.storefront import register_storefront
from webhooks import metrics as webhook_metrics
from webhooks import register_jobs as register_webhook_jobs
from webhooks.intake import intake

MAX_BODY_BYTES = 1024 * 1024


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=runtime.settings.SECRET_KEY,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # fields in the contract's order
    app.extensions["backorder"] = runtime
    instrument(app)
    register_error_handlers(app)
    app.register_blueprint(health)
    app.register_blueprint(api_v1)
    app.register_blueprint(install)
    app.register_blueprint(intake)
    register_storefront(app, runtime)
    register_status(app, runtime)
    register_dashboard(app, runtime)
    webhook_metrics.watch(runtime)
    register_jobs()
    return app


def register_jobs() -> None:
    """Every job this product runs, so whichever process takes a job can run it."""
    from connector import tasks

    tasks.register()
    register_webhook_jobs()
