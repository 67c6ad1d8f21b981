"""Structured logs (structlog, JSON lines in production, readable in development)."""

from __future__ import annotations

import logging

import structlog
from flask import Flask


def configure(app: Flask) -> None:
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        if app.debug or app.testing
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
