"""The PCCS API's guards, before any route runs: Request-ID, bounded URLs and bodies, query parameters, tokens.

Every refusal is JSON (``status``, ``error``, ``detail``, ``remedy``) saying what is wrong and what to do.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from sgxra.errors import SgxRaError
from sgxra.pccs.service import Evaluation, PccsRefusal
from sgxra.pcs.key import MAX_EVALUATION_DATA_NUMBER, UPDATE_TYPES
from sgxra.transport.http_limits import BodyRefusal, read_body, replay
from sgxra.wire.collateral import Collateral

MAX_URL = 4096  # path and query; PCCS's longest is a pckcert request (~1.2 kB)
MAX_BODY = 1024 * 1024  # registrations are < 4 kB; an imported collateral bundle is < 100 kB
MAX_ITEMS_PER_IMPORT = 64
REQUEST_TIMEOUT = 5.0  # seconds for a new connection's first request head, and for any request's body
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX = "0123456789abcdefABCDEF"
Scope = MutableMapping[str, Any]
log = logging.getLogger(__name__)
Asgi = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class Tokens:
    """SHA-512 hex hashes of the admin and user tokens (None: the routes that need one are refused)."""

    admin_hash: str | None = None
    user_hash: str | None = None

    @staticmethod
    def check_hash(value: str, what: str) -> str:
        value = value.strip().lower()
        if len(value) != 128 or any(c not in _HEX for c in value):
            raise ValueError(f"{what} must hold the SHA-512 of the token as 128 hex digits (e.g. from sha512sum)")
        return value


def refusal(status: int, error: str, detail: str, remedy: str = "", headers: dict[str, str] | None = None) -> Response:
    body = {"status": status, "error": error, "detail": detail} | ({"remedy": remedy} if remedy else {})
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


class Guard:
    """Outermost ASGI layer: Request-ID on every answer, bounded URLs and bodies, before any routing.

    A body is read here, within ``body_timeout`` seconds, before any route (or token check) runs: a client
    that sends its body slowly cannot hold a connection slot beyond that."""

    def __init__(self, app: Asgi, max_body: int = MAX_BODY, body_timeout: float = REQUEST_TIMEOUT) -> None:
        self.app, self.max_body, self.body_timeout = app, max_body, body_timeout

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"request-id", request_id.encode())]
            await send(message)

        refused = self._check(scope, headers)
        if refused is not None:
            await refused(scope, receive, send_with_id)
            return
        if scope["method"] in ("POST", "PUT"):
            body = await read_body(receive, self.max_body, self.body_timeout)
            if body is None:
                return  # the client left
            if isinstance(body, BodyRefusal):
                log.info("%s %s refused: %s", scope["method"], scope["path"], body.detail)
                # Connection: close, so the server stops waiting for the rest of the body.
                answer = refusal(body.status, "invalid request", body.detail, headers={"Connection": "close"})
                await answer(scope, receive, send_with_id)
                return
            receive = replay(body, receive)
        await self.app(scope, receive, send_with_id)

    def _check(self, scope: Scope, headers: dict[bytes, bytes]) -> Response | None:
        if len(scope.get("raw_path", b"")) + len(scope["query_string"]) > MAX_URL:
            return refusal(414, "invalid request", f"the request URL exceeds {MAX_URL} bytes")
        if scope["method"] in ("POST", "PUT"):
            length = headers.get(b"content-length", b"")
            if b"transfer-encoding" in headers or not length.isdigit():
                return refusal(411, "invalid request", "a request body needs a Content-Length (no chunked bodies)")
            if int(length) > self.max_body:
                return refusal(413, "invalid request", f"the request body exceeds {self.max_body} bytes")
        return None


class Params:
    """The query parameters of one request, each checked against its rule; anything else is a 400."""

    def __init__(self, request: Request, allowed: tuple[str, ...]) -> None:
        self.items = request.query_params.multi_items()
        names = [name for name, _ in self.items]
        for name in names:
            if name not in allowed:
                raise PccsRefusal(400, "invalid request", f"unknown parameter {name!r}",
                                  f"this route takes {', '.join(allowed) or 'no parameters'}")
            if names.count(name) > 1:
                raise PccsRefusal(400, "invalid request", f"parameter {name!r} is given more than once")
        self.values = dict(self.items)

    def hex(self, name: str, lengths: range) -> str:
        value = self.optional_hex(name, lengths)
        if value is None:
            raise PccsRefusal(400, "invalid request", f"parameter {name!r} is missing")
        return value

    def optional_hex(self, name: str, lengths: range) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if len(value) not in lengths or len(value) % 2 or any(c not in _HEX for c in value):
            size = f"{lengths.start}" if len(lengths) == 1 else f"up to {lengths.stop - 1}"
            raise PccsRefusal(400, "invalid request", f"parameter {name!r} must be {size} hex digits")
        return value.upper()

    def choice(self, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if value.lower() not in choices:
            raise PccsRefusal(400, "invalid request", f"parameter {name!r} must be one of {', '.join(choices)}")
        return value.lower()

    def evaluation(self) -> Evaluation:
        update = self.choice("update", UPDATE_TYPES, "standard") or "standard"
        number = self.values.get("tcbEvaluationDataNumber")
        if number is None:
            return Evaluation(update)
        if "update" in self.values:
            raise PccsRefusal(400, "invalid request", "give update or tcbEvaluationDataNumber, not both")
        if not number.isdigit() or len(number) > 10 or int(number) > MAX_EVALUATION_DATA_NUMBER:
            raise PccsRefusal(400, "invalid request", "parameter 'tcbEvaluationDataNumber' must be a u32")
        return Evaluation(number=int(number))


def platform_body(body: bytes) -> dict[str, Any]:
    """A registration as PCCS's schema: qe_id and pce_id required, each field hex of its length."""
    try:
        platform = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PccsRefusal(400, "invalid request", "the body is not JSON") from None
    if not isinstance(platform, dict):
        raise PccsRefusal(400, "invalid request", "the body is not a JSON object")
    rules = {"qe_id": (2, 260, True), "pce_id": (4, 4, True), "cpu_svn": (32, 32, False), "pce_svn": (4, 4, False),
             "enc_ppid": (768, 768, False), "platform_manifest": (0, 2 * 64 * 1024, False)}
    clean: dict[str, Any] = {}
    for name, value in platform.items():
        if name not in rules:
            raise PccsRefusal(400, "invalid request", f"unknown member {name!r}", f"members: {', '.join(rules)}")
        low, high, _ = rules[name]
        if not isinstance(value, str) or not low <= len(value) <= high or any(c not in _HEX for c in value):
            raise PccsRefusal(400, "invalid request", f"member {name!r} must be {low}..{high} hex digits")
        clean[name] = value.upper()
    for name, (_, _, required) in rules.items():
        if required and name not in clean:
            raise PccsRefusal(400, "invalid request", f"member {name!r} is missing")
    return clean


def collateral_bodies(body: bytes) -> list[Collateral]:
    """One nine-field collateral object or a list of them."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PccsRefusal(400, "invalid request", "the body is not JSON") from None
    objects = parsed if isinstance(parsed, list) else [parsed]
    if not 1 <= len(objects) <= MAX_ITEMS_PER_IMPORT:
        raise PccsRefusal(400, "invalid request", f"give 1 to {MAX_ITEMS_PER_IMPORT} collateral objects")
    try:
        return [Collateral.from_json(json.dumps(o)) for o in objects]
    except SgxRaError as e:
        raise PccsRefusal(400, "invalid request", f"not nine-field collateral JSON: {e}") from e

