"""Structured logs (structlog, JSON lines in production, readable in development), and no CPR number in
any log line: a CPR in a URL (a FHIR search by GET) would otherwise be in the server's request log."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from flask import Flask

from pathways.identifiers import redact_cpr

# The request logs of the development server and of gunicorn, and Flask's own.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


class RedactCpr(logging.Filter):
    """Rewrites a record whose message holds anything CPR-shaped; never drops a record.

    A logger's filters only see the records made by that logger, so the filter sits on the loggers
    that log requests and on the root logger's handlers, which every propagated record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: logging reports it
            return True
        clean = redact_cpr(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


REDACT_CPR = RedactCpr()


def redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    """The last structlog processor: the rendered line (tracebacks included) without CPR numbers."""
    return redact_cpr(rendered) if isinstance(rendered, str) else rendered


def install_cpr_filter(app: Flask) -> None:
    """Idempotent (one filter object, and addFilter adds it once): create_app may run many times."""
    for logger in (*map(logging.getLogger, REQUEST_LOGGERS), logging.getLogger(), app.logger):
        logger.addFilter(REDACT_CPR)
    for handler in (*logging.getLogger().handlers, *app.logger.handlers):
        handler.addFilter(REDACT_CPR)


def configure(app: Flask) -> None:
    install_cpr_filter(app)
    structured: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if app.debug or app.testing:
        structured.append(
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        )
    else:
        # The traceback as text before rendering, so that the redaction below sees it too.
        structured += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=[*structured, redact_rendered],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        # Cached loggers keep the processors of their first use: tests capture logs
        # (structlog.testing.capture_logs) whichever test happened to log first, so not under TESTING.
        cache_logger_on_first_use=not app.testing,
    )
