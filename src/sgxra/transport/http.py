"""The same exchange over HTTP/JSON (FastAPI; OpenAPI at /openapi.json, docs at /docs).

    POST /v1/attestations                 {"msg0_msg1": hex}  -> {"session_id", "msg2"}
    POST /v1/attestations/{id}/msg3       {"msg3": hex}       -> {"msg4", "status", "trusted", "reason", "reason_code",
                                                                  "token"}

``token``: with a token key configured, a trusted verdict also comes as a signed JWT (Intel Trust Authority's
claim names, see ``sgxra.verify.token``); null otherwise.

Sessions live in the service's store, so msg1 and msg3 may reach different replicas.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sgxra.errors import (
    MalformedMessage,
    ProtocolError,
    SgxRaError,
    StoreUnavailable,
    UnknownSession,
)
from sgxra.transport.http_limits import HttpLimits, LimitedApp
from sgxra.transport.lines import DEFAULT_MAX_MESSAGE
from sgxra.transport.metrics import CONTENT_TYPE
from sgxra.transport.service import AttestationService

log = logging.getLogger("sgxra.sp")
HEX = r"^([0-9a-fA-F]{2})*$"


class StartRequest(BaseModel):
    """msg0 || msg1 from the client."""
    msg0_msg1: str = Field(pattern=HEX, description="msg0 || msg1 (72 bytes) as hex")


class StartResponse(BaseModel):
    """The new session's id and msg2."""
    session_id: str
    msg2: str


class FinishRequest(BaseModel):
    """msg3 from the client."""
    msg3: str = Field(pattern=HEX, description="msg3 as hex")


class FinishResponse(BaseModel):
    """msg4, the verdict in words, and (when configured) the trusted verdict as a token."""
    msg4: str = Field(description="msg4 as hex (authenticated or the sample's form, as configured)")
    status: str
    trusted: bool
    reason: str
    reason_code: str
    token: str | None = Field(None, description="the trusted verdict as a signed JWT, when the SP has a token key")


class ErrorResponse(BaseModel):
    """A refused request: the error's type and its detail."""
    error: str
    detail: str


def _status_for(error: SgxRaError) -> int:
    if isinstance(error, UnknownSession):
        return 404
    if isinstance(error, StoreUnavailable):
        return 503
    if isinstance(error, (MalformedMessage, ProtocolError)):
        return 400
    return 500


def create_app(service: AttestationService, *, max_message: int = DEFAULT_MAX_MESSAGE, max_sessions: int = 1024,
               max_per_client: int = 64, body_timeout: float = 5.0,
               token_key: ec.EllipticCurvePrivateKey | None = None) -> FastAPI:
    app = FastAPI(title="sgxra service provider", version="1", description=__doc__)
    limits = HttpLimits(max_body=2 * max_message + 256, max_in_flight=max_sessions, max_per_client=max_per_client,
                        body_timeout=body_timeout)
    app.add_middleware(LimitedApp, limits=limits, metrics=service.metrics)

    @app.exception_handler(SgxRaError)
    async def sgxra_error(request: Request, error: SgxRaError) -> JSONResponse:
        status = _status_for(error)
        log.warning("%s %s: %s: %s", request.method, request.url.path, type(error).__name__, error)
        return JSONResponse({"error": type(error).__name__, "detail": str(error)}, status_code=status)

    @app.post("/v1/attestations", status_code=201, response_model=StartResponse,
              responses={400: {"model": ErrorResponse}, 503: {"model": ErrorResponse}})
    async def start(body: StartRequest) -> StartResponse:
        session_id, msg2 = await service.start(bytes.fromhex(body.msg0_msg1))
        return StartResponse(session_id=session_id, msg2=msg2.hex())

    @app.post("/v1/attestations/{session_id}/msg3", response_model=FinishResponse,
              responses={400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}})
    async def finish(session_id: str, body: FinishRequest) -> FinishResponse:
        done = await service.finish(session_id, bytes.fromhex(body.msg3))
        outcome = done.outcome
        token = None
        if token_key is not None and outcome.trusted and outcome.evidence is not None:
            from sgxra.verify.token import evidence_claims, sign_claims

            token = sign_claims(evidence_claims(outcome.evidence), token_key, at=datetime.now(timezone.utc))
        return FinishResponse(msg4=done.msg4.hex(), status=outcome.msg4.status.name, trusted=outcome.trusted,
                              reason=outcome.reason, reason_code=outcome.reason_code.name, token=token)

    _serve_metrics(app, service)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def metrics_app(service: AttestationService) -> FastAPI:
    """Only /metrics, for a port of its own (deployments that serve TCP only)."""
    app = FastAPI(title="sgxra service provider metrics", openapi_url=None, docs_url=None, redoc_url=None)
    _serve_metrics(app, service)
    return app


def _serve_metrics(app: FastAPI, service: AttestationService) -> None:
    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(service.exposition(), media_type=CONTENT_TYPE)
