"""Typed errors that carry their HTTP status (mapped to JSON in service/api/errors.py).

Plain exceptions: the core (dataplane, registry, codecs, batch script) raises them
without knowing about HTTP frameworks."""
from __future__ import annotations

from typing import Any


class AxonError(Exception):
    """Base of every error Axon raises on purpose; `status` is its HTTP status."""

    status = 500
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidInput(AxonError):
    status = 400


class Unauthorized(AxonError):
    status = 401


class Forbidden(AxonError):
    status = 403


class ModelNotFound(AxonError):
    status = 404


class PayloadTooLarge(AxonError):
    status = 413


class UnsupportedMediaType(AxonError):
    status = 415


class ModelNotReady(AxonError):
    status = 503


class Overloaded(AxonError):
    """The model's queue is full: retry later (503 with Retry-After)."""

    status = 503
    retry_after = 1


class Timeout(AxonError):
    status = 504


def shown(value: Any, limit: int = 80) -> str:
    """A client's value for an error message: its repr, cut short (a shape can be a megabyte long)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
