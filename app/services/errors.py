"""Errors raised by services; the web layer maps them to HTTP responses."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class. ``errors`` maps a field name to a message, when one field is at fault."""

    code = "error"

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(ServiceError):
    code = "validation_error"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Forbidden(ServiceError):
    code = "forbidden"
