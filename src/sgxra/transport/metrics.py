"""What the service provider counts, in Prometheus' format (``/metrics``), and the session id in its logs.

Each service has a registry of its own, so several services in one process (tests, benchmarks) do not mix.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from sgxra.errors import ServiceError

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The session a log line belongs to: set where a session starts or resumes, read by SessionIdFilter.
current_session: contextvars.ContextVar[str | None] = contextvars.ContextVar("sgxra_session", default=None)


class SpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.attestations = Counter("sgxra_attestations", "Attestations answered with a msg4, by verdict, reason "
                                    "code and evidence type", ["verdict", "reason_code", "evidence"], registry=r)
        self.session_errors = Counter("sgxra_session_errors", "Sessions that ended in an error, by error type",
                                      ["error"], registry=r)
        self.refusals = Counter("sgxra_refusals", "Requests and connections refused or cut, by the limit reached",
                                ["limit"], registry=r)
        self.service_seconds = Histogram("sgxra_attestation_service_request_seconds",
                                         "Latency of requests to IAS and PCS", ["service"], registry=r)
        self.service_errors = Counter("sgxra_attestation_service_errors", "Failed requests to IAS and PCS",
                                      ["service"], registry=r)
        self.in_flight = Gauge("sgxra_sessions_in_flight", "Sessions and requests being served, by transport",
                               ["transport"], registry=r)
        self.pending = Gauge("sgxra_sessions_pending", "Sessions waiting for msg3 in this process's memory store "
                             "(a shared Redis store is not counted)", registry=r)

    def refused(self, limit: str) -> None:
        self.refusals.labels(limit).inc()

    @contextmanager
    def timed(self, service: str) -> Iterator[None]:
        """Time a request to an attestation service; a ServiceError (not a verdict) counts as its error."""
        started = time.perf_counter()
        try:
            yield
        except ServiceError:
            self.service_errors.labels(service).inc()
            raise
        finally:
            self.service_seconds.labels(service).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class SessionIdFilter(logging.Filter):
    """Stamp each record with the current session id (or None); attach it where records are emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.session_id = current_session.get()
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and session id."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), "session_id": getattr(record, "session_id", None)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)
