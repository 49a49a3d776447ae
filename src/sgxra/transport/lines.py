"""The sample's wire protocol: each message one line of hex ending in ``\\n``, over TCP or stdio.

A session is: msg0||msg1 (or msg0, then msg1) -> msg2; msg3 -> msg4.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.transport.per_address import PerAddress
from sgxra.transport.service import AttestationService, Finished
from sgxra.wire.messages import Msg0

log = logging.getLogger("sgxra.sp")
_HEX = re.compile(rb"[0-9a-fA-F]*")
DEFAULT_MAX_MESSAGE = 256 * 1024  # bytes of message, so lines of twice that in hex
WAITING_PER_SLOT = 4  # connections that may wait in line for a slot, per slot

ReadLine = Callable[[], Awaitable[bytes]]
WriteLine = Callable[[bytes], Awaitable[None]]


def decode_line(line: bytes, what: str) -> bytes:
    """One hex line to bytes; a line without its newline means the peer stopped mid-line."""
    if not line:
        raise MalformedMessage(what, "<line>", 0, "connection closed before the message")
    if not line.endswith(b"\n"):
        raise MalformedMessage(what, "<line>", len(line), "the peer stopped in the middle of a line")
    text = line.rstrip(b"\r\n")
    if not _HEX.fullmatch(text):
        raise MalformedMessage(what, "<line>", 0, "not hexadecimal")
    if len(text) % 2:
        raise MalformedMessage(what, "<line>", len(text) // 2, "odd number of hex digits")
    return bytes.fromhex(text.decode("ascii"))


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream, ignoring a peer that is already gone."""
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


def encode_line(message: bytes) -> bytes:
    return message.hex().encode("ascii") + b"\n"


async def run_session(read_line: ReadLine, write_line: WriteLine, service: AttestationService,
                      on_msg1: Callable[[], None] | None = None) -> Finished:
    """One session; ``on_msg1`` is called once msg0||msg1 is in (the client has spoken)."""
    first = decode_line(await read_line(), "msg0||msg1")
    if len(first) == Msg0.SIZE:  # msg0 alone: msg1 follows on its own line
        first += decode_line(await read_line(), "msg1")
    if on_msg1 is not None:
        on_msg1()
    session_id, msg2 = await service.start(first)
    await write_line(msg2)
    finished = await service.finish(session_id, decode_line(await read_line(), "msg3"))
    await write_line(finished.msg4)
    return finished


@dataclass
class ServerStats:
    completed: int = 0
    trusted: int = 0
    failed: int = 0
    rejected_busy: int = 0
    rejected_per_client: int = 0
    evicted_silent: int = 0
    timed_out: int = 0
    in_flight: int = 0


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    deadline: float  # loop time by which msg0||msg1 must be in
    seated: bool = False  # holds one of the max_sessions slots
    seated_at: float = 0.0  # loop time; its grace counts from here, not from its wait in line
    evicted: bool = False


@dataclass
class TcpLineServer:
    """Many sessions at once; each bounded in size and time; at most ``max_sessions`` in flight.

    A connection must deliver msg0||msg1 within ``first_message_timeout``. When every slot is taken, a
    newcomer waits its turn (first come, first served, within that same deadline; up to ``WAITING_PER_SLOT``
    per slot) for a slot to free up, and
    a connection that has stayed silent for ``silent_grace`` seconds gives its slot to the first in line:
    connections that send nothing cannot lock honest clients out, nor (reconnecting) evict them before
    they could speak. Each client address may hold ``max_per_client`` connections, waiting or served.
    """

    service: AttestationService
    max_message: int = DEFAULT_MAX_MESSAGE
    session_timeout: float = 30.0
    max_sessions: int = 1024
    first_message_timeout: float = 5.0
    max_per_client: int = 64
    silent_grace: float = 0.5
    stats: ServerStats = field(default_factory=ServerStats)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _silent: dict[_Connection, None] = field(default_factory=dict)  # ordered: oldest first
    _per_client: PerAddress = field(init=False)
    _line: deque[asyncio.Event] = field(default_factory=deque)  # connections waiting for a slot, in order

    def __post_init__(self) -> None:
        self._per_client = PerAddress(self.max_per_client)

    async def start(self, hosts: Sequence[str] | None, port: int) -> list[tuple[str, int]]:
        """Listen (all interfaces, IPv4 and IPv6, when ``hosts`` is None); return the bound addresses."""
        limit = 2 * self.max_message + 2
        # A listen backlog as deep as the sessions allowed in flight: bursts of clients are not dropped.
        self._server = await asyncio.start_server(self._handle, host=list(hosts) if hosts else None, port=port,
                                                  limit=limit, reuse_address=True, backlog=min(self.max_sessions, 4096))
        return [s.getsockname()[:2] for s in self._server.sockets]

    def _refuse(self, limit: str, peer: object, why: str) -> None:
        self.service.metrics.refused(limit)
        log.warning("refusing %s: %s", peer, why)

    def _slot(self, delta: int) -> None:
        self.stats.in_flight += delta
        self.service.metrics.in_flight.labels("tcp").inc(delta)
        if delta < 0:
            self._wake_first()

    async def _admit(self, deadline: float) -> bool:
        """Take a slot in turn: a free one, else a silent connection's (past its grace), else wait in line.
        Only the first in line is woken when a slot frees up: the line may be long."""
        loop = asyncio.get_running_loop()
        if len(self._line) >= WAITING_PER_SLOT * self.max_sessions:  # a waiting connection costs a socket only
            return False
        me = asyncio.Event()
        self._line.append(me)
        try:
            while True:
                now, first = loop.time(), self._line[0] is me
                oldest = next(iter(self._silent), None)
                if first and self.stats.in_flight < self.max_sessions:
                    return True
                if first and oldest is not None and now >= oldest.seated_at + self.silent_grace:
                    self._evict(oldest)
                    return True
                if now >= deadline:
                    return False
                wake = min(deadline, oldest.seated_at + self.silent_grace) if first and oldest else deadline
                me.clear()
                try:
                    async with asyncio.timeout_at(wake):
                        await me.wait()
                except TimeoutError:
                    pass
        finally:
            self._line.remove(me)
            self._wake_first()

    def _wake_first(self) -> None:
        if self._line:
            self._line[0].set()

    def _evict(self, oldest: _Connection) -> None:
        """Close a connection that has been silent too long, freeing its slot for a newcomer."""
        del self._silent[oldest]
        oldest.evicted, oldest.seated = True, False
        self._slot(-1)
        self.stats.evicted_silent += 1
        self.service.metrics.refused("silent_evicted")
        oldest.writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else "local"
        try:
            if not self._per_client.take(address):
                self.stats.rejected_per_client += 1
                self._refuse("per_client", peer, f"{self.max_per_client} connections from this address")
                return
            loop = asyncio.get_running_loop()
            connection = _Connection(writer, loop.time() + self.first_message_timeout)
            try:
                if not await self._admit(connection.deadline):
                    self.stats.rejected_busy += 1
                    self._refuse("busy", peer, f"{self.stats.in_flight} sessions in flight")
                    return
                self._silent[connection] = None
                connection.seated, connection.seated_at = True, loop.time()
                self._slot(1)
                await self._session(reader, writer, peer, connection)
            finally:
                self._silent.pop(connection, None)
                if connection.seated:
                    self._slot(-1)
                self._per_client.release(address)
        finally:
            await close_writer(writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object,
                       connection: _Connection) -> None:
        async def read_line() -> bytes:
            try:
                if connection in self._silent:  # msg0||msg1 has its own, shorter deadline
                    async with asyncio.timeout_at(connection.deadline):
                        return await reader.readline()
                return await reader.readline()
            except ValueError:  # the StreamReader's limit: a line longer than any message
                raise MalformedMessage("line", "<line>", 0, f"longer than {self.max_message} bytes of message") from None

        async def write_line(message: bytes) -> None:
            writer.write(encode_line(message))
            await writer.drain()

        def spoke() -> None:
            self._silent.pop(connection, None)

        try:
            async with asyncio.timeout(self.session_timeout):
                finished = await run_session(read_line, write_line, self.service, spoke)
            self.stats.completed += 1
            self.stats.trusted += finished.outcome.trusted
        except TimeoutError:
            self.stats.timed_out += 1
            silent = connection in self._silent
            self.service.metrics.refused("first_message_timeout" if silent else "session_timeout")
            log.warning("session with %s timed out after %.0f s%s", peer,
                        self.first_message_timeout if silent else self.session_timeout, " without msg1" if silent else "")
        except SgxRaError as e:
            self.stats.failed += 1
            if connection.evicted:
                log.info("silent connection from %s closed to make room", peer)
            else:
                log.warning("session with %s failed: %s: %s", peer, type(e).__name__, e)
        except (ConnectionError, OSError) as e:
            self.stats.failed += 1
            log.info("session with %s: connection lost: %s", peer, e)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting; let sessions in flight finish for up to ``grace`` seconds."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()


async def serve_until_signalled(shutdown: Callable[[], Awaitable[None]]) -> None:
    """Wait for SIGINT or SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: finishing sessions in flight")
    await shutdown()
