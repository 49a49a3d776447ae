"""Soak: 1,000 sessions in flight against `sgxra sp`, slow clients holding connections,
clients vanishing between msg2 and msg3, and normal clients attesting throughout; then an
idle phase: more connections than the SP has slots, sending nothing (and reconnecting when
closed), while the normal clients attest.

Reports the SP process's memory (VmRSS) and open file descriptors before, during
and after, the sessions completed, vanished and refused, and the throughput of
the normal clients while the load is held. Run: make bench-soak
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from launch import ias_and_sp

from sgxra.ias.mock_config import DEMO_PLATFORM_SEED
from sgxra.protocol.client import ClientSession
from sgxra.sim import EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.transport.client import attest_tcp
from sgxra.transport.lines import decode_line, encode_line


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Figures:
    held = completed_held = vanished = normal_ok = normal_failed = held_failed = 0
    idle_opened = idle_closed_by_sp = idle_failed = 0


async def held_session(port: int, new_session: ClientSession, complete: bool, release: asyncio.Event,
                       figures: Figures) -> None:
    """A slow client: msg1, then it holds the connection; later it completes, or vanishes."""
    try:
        async with asyncio.timeout(300):
            await _held(port, new_session, complete, release, figures)
    except Exception:  # noqa: BLE001 - the soak counts every failure, whatever it is
        figures.held_failed += 1


async def _held(port: int, new_session: ClientSession, complete: bool, release: asyncio.Event,
                figures: Figures) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(encode_line(new_session.start()))
    await writer.drain()
    msg3 = new_session.receive_msg2(decode_line(await reader.readline(), "msg2"))
    figures.held += 1
    await release.wait()
    if complete:
        writer.write(encode_line(msg3))
        await writer.drain()
        new_session.receive_msg4(decode_line(await reader.readline(), "msg4"))
        figures.completed_held += 1
    else:
        figures.vanished += 1  # gone between msg2 and msg3
    writer.close()


async def idle_connection(port: int, source: str, stop: asyncio.Event, figures: Figures) -> None:
    """Connect and send nothing; when the SP closes the connection, connect again."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            figures.idle_failed += 1
            await asyncio.sleep(0.1)
            continue
        figures.idle_opened += 1
        read = asyncio.ensure_future(reader.read(1))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if read.done():
            figures.idle_closed_by_sp += 1
        read.cancel()
        stopped.cancel()
        writer.close()


async def idle_phase(port: int, make: object, connections: int, seconds: float, figures: Figures) -> float:
    """``connections`` silent connections from many loopback addresses, normal clients attesting meanwhile."""
    stop = asyncio.Event()
    idle = [asyncio.create_task(idle_connection(port, f"127.0.2.{1 + i % 50}", stop, figures))
            for i in range(connections)]
    while figures.idle_opened < connections:
        await asyncio.sleep(0.1)
    ok_before = figures.normal_ok
    elapsed = await normal_clients(port, make, seconds, 32, figures)
    stop.set()
    await asyncio.gather(*idle)
    return (figures.normal_ok - ok_before) / elapsed


async def normal_clients(port: int, make: object, seconds: float, count: int, figures: Figures) -> float:
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < stop_at:
            try:
                verdict = await attest_tcp(make(), "127.0.0.1", port, timeout=30)  # type: ignore[operator]
                figures.normal_ok += verdict.trusted
            except Exception:  # noqa: BLE001
                figures.normal_failed += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(count)))
    return time.monotonic() - start


async def soak(port: int, sp_pid: int, sp_public: bytes, sessions: int, seconds: float,
               session_ttl: float, idle: int) -> dict[str, object]:
    platform = SimPlatform.from_seed(DEMO_PLATFORM_SEED.encode())

    def make() -> ClientSession:
        return ClientSession(SimEnclave(SimQuotingEnclave(platform), EnclaveIdentity(), sp_public))

    figures = Figures()
    samples = {"before": (rss_mib(sp_pid), fds(sp_pid))}
    rates = []
    for round_ in (1, 2):  # a second round shows whether memory keeps growing
        release = asyncio.Event()
        held_before = figures.held + figures.held_failed
        holders = [asyncio.create_task(held_session(port, make(), i % 2 == 0, release, figures))
                   for i in range(sessions)]
        while figures.held + figures.held_failed < held_before + sessions:
            await asyncio.sleep(0.1)
        samples[f"held {round_}"] = (rss_mib(sp_pid), fds(sp_pid))
        ok_before = figures.normal_ok
        elapsed = await normal_clients(port, make, seconds, 32, figures)  # throughput while they are held
        rates.append((figures.normal_ok - ok_before) / elapsed)
        release.set()
        await asyncio.gather(*holders)
        await asyncio.sleep(session_ttl * 2 + 1)  # vanished sessions expire, and the SP reclaims them
        samples[f"after {round_}"] = (rss_mib(sp_pid), fds(sp_pid))
    normal_failed_before = figures.normal_failed
    idle_rate = await idle_phase(port, make, idle, seconds, figures)
    samples["idle"] = (rss_mib(sp_pid), fds(sp_pid))
    return {"figures": figures, "samples": samples, "rate": min(rates), "idle_rate": idle_rate,
            "idle_failed": figures.normal_failed - normal_failed_before}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle", type=int, default=1100, help="silent connections in the idle phase")
    args = parser.parse_args()
    session_ttl = args.seconds + 15  # held sessions outlive the normal clients' phase, then may finish
    # The held sessions all come from 127.0.0.1: the per-address cap must let them in.
    options = ["--max-sessions", str(args.sessions + 100), "--session-timeout", "120",
               "--session-ttl", str(session_ttl), "--max-per-client", str(args.sessions + 100)]
    with tempfile.TemporaryDirectory() as tmp:
        with ias_and_sp(Path(tmp), *options) as launched:
            result = asyncio.run(soak(launched.port, launched.sp.pid, launched.sp_public, args.sessions, args.seconds,
                                      session_ttl, args.idle))
        log = launched.log.read_text()  # after the SP has stopped and logged its summary
    figures: Figures = result["figures"]  # type: ignore[assignment]
    stopped = [line for line in log.splitlines() if "stopped:" in line]
    print(f"two rounds of {args.sessions} sessions held in flight: {figures.held} held, {figures.held_failed} failed")
    print(f"  completed after holding: {figures.completed_held}; vanished between msg2 and msg3: {figures.vanished}")
    print(f"normal clients meanwhile: {figures.normal_ok} trusted, {figures.normal_failed} failed, "
          f"{result['rate']:.0f} attestations/s (the slower round) with {args.sessions} sessions held")
    print(f"idle phase: {args.idle} silent connections held open (reconnecting when closed: {figures.idle_opened} "
          f"opened, {figures.idle_closed_by_sp} closed by the SP, {figures.idle_failed} failed to connect); normal "
          f"clients {result['idle_rate']:.0f} attestations/s, {result['idle_failed']} failed")
    samples: dict[str, tuple[float, int]] = result["samples"]  # type: ignore[assignment]
    for name, (rss, fd) in samples.items():
        print(f"SP {name:8s}: {rss:6.1f} MiB resident, {fd:5d} file descriptors")
    print("SP at shutdown:", stopped[0].split("stopped: ", 1)[1] if stopped else "(no summary)")
    growth = samples["after 2"][0] - samples["after 1"][0]
    print(f"soak_fd_leak={samples['after 2'][1] - samples['after 1'][1]} soak_rss_growth_round2_mib={growth:.1f} "
          f"soak_attestations_per_s={result['rate']:.0f} soak_lost={figures.held_failed + figures.normal_failed} "
          f"soak_idle_phase_attestations_per_s={result['idle_rate']:.0f} soak_idle_phase_lost={result['idle_failed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
