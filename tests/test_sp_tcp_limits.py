"""Connections that send nothing cannot lock honest clients out (issue 11, point 3): msg0||msg1 has its own
deadline, silent connections give their slots to newcomers, and each client address has a cap."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from sgxra.transport.background import UvicornThread
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import encode_line
from sgxra.wire import Msg0Msg1
from sp_env import attest, client, mock_ias, tcp_sp, wait_until


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


def silent(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def closed_within(s: socket.socket, seconds: float) -> bool:
    started = time.monotonic()
    try:
        data = s.recv(10)
    except ConnectionResetError:
        data = b""
    return data == b"" and time.monotonic() - started < seconds


def test_msg1_has_its_own_short_deadline(ias: UvicornThread) -> None:
    with tcp_sp(ias.url, session_timeout=30, first_message_timeout=0.5) as sp:
        with silent(sp.port) as quiet, silent(sp.port) as half:
            half.sendall(encode_line(Msg0Msg1.parse(client().start()).msg0.to_bytes()))  # msg0, then nothing
            assert closed_within(quiet, 5) and closed_within(half, 5)  # long before the session timeout
        assert attest(sp.port).trusted
    assert sp.server.stats.timed_out == 2


def test_silent_connections_give_way_to_new_ones(ias: UvicornThread) -> None:
    with tcp_sp(ias.url, max_sessions=4, first_message_timeout=30, max_per_client=100) as sp:
        idle = [silent(sp.port, f"127.0.0.{2 + i}") for i in range(8)]  # twice as many as there are slots
        # The last four waited in line, then took the slots of the first four once those had been silent long enough.
        wait_until(lambda: sp.server.stats.evicted_silent == 4)
        assert closed_within(idle[0], 5)
        assert all(v.trusted for v in (attest(sp.port), attest(sp.port)))
        for s in idle:
            s.close()
    assert sp.server.stats.rejected_busy == 0 and sp.server.stats.completed == 2


def test_a_newcomer_is_not_evicted_before_it_could_speak(ias: UvicornThread) -> None:
    """Silent clients that reconnect as soon as they are closed must not churn honest ones out."""
    async def flood_and_attest(port: int) -> list[bool]:
        stop = asyncio.Event()

        async def reconnecting(source: str) -> None:
            while not stop.is_set():
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
                except OSError:
                    await asyncio.sleep(0.01)
                    continue
                read = asyncio.ensure_future(reader.read(1))
                await asyncio.wait({read, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
                read.cancel()
                writer.close()

        flood = [asyncio.create_task(reconnecting(f"127.0.1.{1 + i % 8}")) for i in range(24)]
        await asyncio.sleep(0.5)
        verdicts = []
        for _ in range(4):
            verdicts.append((await attest_tcp(client(), "127.0.0.1", port, timeout=10)).trusted)
        stop.set()
        await asyncio.gather(*flood)
        return verdicts

    with tcp_sp(ias.url, max_sessions=8, first_message_timeout=5, max_per_client=100) as sp:
        assert asyncio.run(flood_and_attest(sp.port)) == [True] * 4
    assert sp.server.stats.evicted_silent > 0


def test_connections_are_capped_per_client_address(ias: UvicornThread) -> None:
    with tcp_sp(ias.url, max_per_client=3, first_message_timeout=30) as sp:
        held = [silent(sp.port, "127.0.0.2") for _ in range(3)]
        wait_until(lambda: sp.server.stats.in_flight == 3)
        with silent(sp.port, "127.0.0.2") as fourth:
            assert closed_within(fourth, 5)  # refused at once
        assert attest(sp.port).trusted  # another address is served
        for s in held:
            s.close()
    assert sp.server.stats.rejected_per_client == 1
