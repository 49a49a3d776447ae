"""The sample's ``-z`` mode: the same hex lines on standard input and output, one session after another."""

from __future__ import annotations

import asyncio
import logging
from typing import BinaryIO

from sgxra.errors import SgxRaError
from sgxra.transport.lines import DEFAULT_MAX_MESSAGE, encode_line, run_session
from sgxra.transport.service import AttestationService

log = logging.getLogger("sgxra.sp")


class _LineReader:
    """Bounded lines from a binary stream, read off the event loop; one line can be pushed back."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.pushed: list[bytes] = []

    async def read(self) -> bytes:
        if self.pushed:
            return self.pushed.pop()
        line = await asyncio.to_thread(self.stream.readline, self.limit + 1)
        if len(line) > self.limit:
            await asyncio.to_thread(self.stream.readline)  # drop the rest of the over-long line
            return line[: self.limit]  # no newline: refused as incomplete
        return line


async def serve_stdio(service: AttestationService, stdin: BinaryIO, stdout: BinaryIO,
                      *, max_message: int = DEFAULT_MAX_MESSAGE) -> int:
    """Serve sessions until end of input; return how many failed."""
    lines = _LineReader(stdin, 2 * max_message + 2)
    failures = 0

    async def write_line(message: bytes) -> None:
        stdout.write(encode_line(message))
        stdout.flush()

    while True:
        first = await lines.read()
        if not first:
            return failures  # end of input between sessions: a clean end
        lines.pushed.append(first)
        try:
            finished = await run_session(lines.read, write_line, service)
            log.info("stdio session: %s", finished.outcome.reason)
        except SgxRaError as e:
            failures += 1
            log.warning("stdio session failed: %s: %s", type(e).__name__, e)
