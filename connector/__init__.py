"""Backorder Connector: the core (model, storage, domain rules, services, web app, CLI)."""

__version__ = "0.1.0"
