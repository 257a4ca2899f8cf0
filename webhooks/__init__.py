"""Webhook intake: verify, record in the inbox, acknowledge, dispatch to the core."""

from __future__ import annotations


def register_jobs() -> None:
    """Make the inbox processor runnable by this process's queue (web, serve or worker)."""
    from webhooks.process import register

    register()
