"""Errors a use case raises; entry points map them to HTTP statuses or CLI messages."""

from __future__ import annotations


class ServiceError(Exception):
    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    code = "not_found"


class Invalid(ServiceError):
    code = "validation_error"


class Conflict(ServiceError):
    code = "conflict"
