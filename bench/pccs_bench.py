"""Load test: cached `tcb` lookups from `sgxra pccs serve` next to `sgxra pcs-mock` serving the same, on loopback.

Starts `sgxra pcs-mock` and, in front of it, `sgxra pccs serve --mode lazy` (SQLite, the mock's simulated root)
as separate processes; one request fills the PCCS's store, then C concurrent keep-alive clients (asyncio, raw
HTTP/1.1, in this process) ask each server for the same TCB info for S seconds. Every answer is checked for
status 200 and its full body read. Run: make bench-pccs   (options: --clients C --seconds S)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from launch import SGXRA, free_port, wait_for

from sgxra.sim.dcap_qe import DEFAULT_FMSPC

TICKS = os.sysconf("SC_CLK_TCK")
TCB_PATH = f"/sgx/certification/v4/tcb?fmspc={DEFAULT_FMSPC.hex().upper()}&update=standard"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _client(port: int, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {TCB_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    try:
        while time.monotonic() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            if status != b"200":
                raise RuntimeError(f"answer {status!r}")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()


async def _load(port: int, clients: int, seconds: float) -> int:
    counts = [0]
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(_client(port, stop_at, counts) for _ in range(clients)))
    return counts[0]


def measure(name: str, port: int, proc: subprocess.Popen[bytes], clients: int, seconds: float) -> dict[str, object]:
    cpu = cpu_seconds(proc.pid)
    started = time.monotonic()
    done = asyncio.run(_load(port, clients, seconds))
    elapsed = time.monotonic() - started
    used = cpu_seconds(proc.pid) - cpu
    return {"server": name, "requests": done, "seconds": round(elapsed, 2), "requests_per_s": round(done / elapsed),
            "server_cpu_us_per_request": round(used / done * 1e6) if done else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgxra-pccs-bench-") as tmp:
        work = Path(tmp)
        mock_port, pccs_port = free_port(), free_port()
        mock = subprocess.Popen([*SGXRA, "pcs-mock", "--port", str(mock_port), "--state-dir", str(work / "mock")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(mock_port, mock)
            with (work / "pccs.log").open("wb") as log:
                pccs = subprocess.Popen(
                    [*SGXRA, "pccs", "serve", "--mode", "lazy", "--db", str(work / "pccs.sqlite"),
                     "--pcs-url", f"http://127.0.0.1:{mock_port}", "--root", str(work / "mock" / "sim-root.pem"),
                     "--port", str(pccs_port)], stdout=log, stderr=log)
            try:
                wait_for(pccs_port, pccs)
                # The one miss: fetched from the mock, verified and stored.
                urllib.request.urlopen(f"http://127.0.0.1:{pccs_port}{TCB_PATH}", timeout=30).read()
                rows = [measure("sgxra pccs serve (cached, SQLite)", pccs_port, pccs, args.clients, args.seconds),
                        measure("sgxra pcs-mock (signs each answer)", mock_port, mock, args.clients, args.seconds)]
            finally:
                pccs.terminate()
                pccs.wait(timeout=30)
        finally:
            mock.terminate()
            mock.wait(timeout=30)
    print(f"{args.clients} concurrent keep-alive clients, {args.seconds:g} s each, loopback, {os.cpu_count()} cores")
    print(f"{'server':<38} {'requests/s':>10} {'server CPU/request':>19}")
    for row in rows:
        print(f"{row['server']:<38} {row['requests_per_s']:>10} {str(row['server_cpu_us_per_request']) + ' us':>19}")
    print(json.dumps({"pccs_vs_mock": round(int(rows[0]["requests_per_s"]) / max(1, int(rows[1]["requests_per_s"])), 2)}))


if __name__ == "__main__":
    main()
