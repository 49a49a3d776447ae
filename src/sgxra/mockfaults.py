"""Faults the IAS and PCS mocks can be told to inject, for tests of everything around them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


@dataclass
class TransportFaults:
    """Mutable while the mock runs; counters count down as they fire."""

    delay: float = 0.0  # seconds before every answer
    unavailable: int = 0  # answer 503 to the next N requests
    server_error: int = 0  # answer 500 to the next N requests
    drop: int = 0  # cut the connection in the middle of the next N answers
    too_many: int = 0  # answer 429 to the next N requests
    retry_after: str | None = None  # the Retry-After header of those 429 answers (seconds or an HTTP date)

    async def gate(self) -> Response | None:
        """The faulty answer to give instead of the real one, if any."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.unavailable > 0:
            self.unavailable -= 1
            return Response(status_code=503)
        if self.server_error > 0:
            self.server_error -= 1
            return Response(status_code=500)
        if self.too_many > 0:
            self.too_many -= 1
            return Response(status_code=429, headers={"Retry-After": self.retry_after} if self.retry_after else None)
        if self.drop > 0:
            self.drop -= 1
            return CutResponse()
        return None


class CutResponse(Response):
    """Promises a body and sends one byte of it: the server then closes the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": False})
