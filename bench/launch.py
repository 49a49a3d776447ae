"""Start the mock IAS and `sgxra sp` as separate processes on loopback, for the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.ias.mock_config import DEMO_SUBSCRIPTION_KEY
from sgxra.sim import EnclaveIdentity

SGXRA = [sys.executable, "-m", "sgxra"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("a server did not start") from None
            time.sleep(0.05)


@dataclass
class Launched:
    sp: subprocess.Popen[bytes]
    port: int
    sp_public: bytes  # what the simulated enclaves embed
    log: Path


@contextmanager
def ias_and_sp(work: Path, *sp_options: str, env: dict[str, str] | None = None) -> Iterator[Launched]:
    """The default mock IAS and an SP with a fresh key, a policy for the simulated enclave and a secret.

    ``env`` adds to the SP's environment (SGXRA_LOOP=asyncio, say)."""
    with ias_and_sps(work, 1, *sp_options, env=env) as (launched,):
        yield launched


@contextmanager
def mock_ias(work: Path) -> Iterator[int]:
    """`sgxra ias-mock` (state in ``work``/ias) on a free loopback port: the port."""
    port = free_port()
    ias = subprocess.Popen([*SGXRA, "ias-mock", "--port", str(port), "--state-dir", str(work / "ias")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, ias)
        yield port
    finally:
        ias.terminate()
        ias.wait(timeout=30)


@contextmanager
def ias_and_sps(work: Path, replicas: int, *sp_options: str, env: dict[str, str] | None = None) -> Iterator[list[Launched]]:
    """As :func:`ias_and_sp`, with ``replicas`` SPs sharing the key (give them a shared store in ``sp_options``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    (work / "sp.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    (work / "policy.toml").write_text(f'mr_signers = ["{EnclaveIdentity().mr_signer.hex()}"]\nallow_simulated = true\n')
    (work / "secret").write_bytes(b"s" * 32)
    (work / "ias.key").write_text(DEMO_SUBSCRIPTION_KEY)
    started: list[Launched] = []
    with mock_ias(work) as ias_port:
        try:
            yield _start_sps(work, replicas, ias_port, sp_options, env, crypto.public_key_to_point(key.public_key()),
                             started)
        finally:
            for launched in started:
                launched.sp.terminate()
                launched.sp.wait(timeout=60)


def _start_sps(work: Path, replicas: int, ias_port: int, sp_options: tuple[str, ...], env: dict[str, str] | None,
               sp_public: bytes, started: list[Launched]) -> list[Launched]:
    """Start the SPs, each added to ``started`` as soon as it runs (so that it is stopped whatever happens next)."""
    for i in range(replicas):
        sp_port, log = free_port(), work / ("sp.log" if i == 0 else f"sp{i}.log")
        sp = subprocess.Popen(
            [*SGXRA, "sp", "--key", str(work / "sp.key"), "--policy", str(work / "policy.toml"),
             "--host", "127.0.0.1", "--port", str(sp_port), "--ias-url", f"http://127.0.0.1:{ias_port}",
             "--ias-primary-key-file", str(work / "ias.key"), "--ias-root", str(work / "ias" / "ias-root.pem"),
             "--secret-file", str(work / "secret"), "--log-file", str(log), *sp_options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # logs go to the log file: a full pipe would stall it
            env={**os.environ, **(env or {})})
        started.append(Launched(sp, sp_port, sp_public, log))
        wait_for(sp_port, sp)
    return started
