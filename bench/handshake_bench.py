"""Load test: N concurrent clients attest against `sgxra sp` (with the mock IAS), on loopback.

Prints attestations per second end to end and the service provider's CPU time
per attestation (from /proc, for the SP process only) next to the cost of the
bare cryptography an attestation needs on the SP side, measured in the same
run. Run: make bench-handshake   (options: --clients N --seconds S)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from launch import ias_and_sp

from sgxra import crypto
from sgxra.ias.mock_config import DEMO_PLATFORM_SEED
from sgxra.ias.mock_pki import MockIasPki
from sgxra.protocol.client import ClientSession
from sgxra.sim import EnclaveIdentity, SimEnclave, SimPlatform, SimQuotingEnclave
from sgxra.transport.client import attest_tcp

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def crypto_floor_us() -> dict[str, float]:
    """The SP's bare cryptography for one attestation, each measured here with timeit."""
    n = 400
    peer = crypto.public_key_to_point(ec.generate_private_key(ec.SECP256R1()).public_key())
    sp_key = ec.generate_private_key(ec.SECP256R1())
    key16, data = bytes(16), bytes(600)
    pki = MockIasPki.generate(datetime.now(timezone.utc))
    report = bytes(900)
    signature = pki.leaf_key.sign(report, padding.PKCS1v15(), hashes.SHA256())
    leaf_public = pki.leaf.public_key()
    root_public = pki.root.public_key()
    tbs, leaf_sig = pki.leaf.tbs_certificate_bytes, pki.leaf.signature

    def per_call(fn: Callable[[], object]) -> float:
        return timeit.timeit(fn, number=n) / n * 1e6

    return {
        "ephemeral keygen": per_call(lambda: ec.generate_private_key(ec.SECP256R1())),
        "ECDH": per_call(lambda: crypto.ecdh_shared_x_le(sp_key, peer, "g_a")),
        "ECDSA sign": per_call(lambda: crypto.sign_gb_ga(sp_key, peer, peer)),
        "8 CMACs (KDF, msg2, msg3, msg4)": 8 * per_call(lambda: crypto.aes_cmac(key16, data)),
        "2 RSA verifies (report, chain)": per_call(
            lambda: leaf_public.verify(signature, report, padding.PKCS1v15(), hashes.SHA256())
        ) + per_call(lambda: root_public.verify(leaf_sig, tbs, padding.PKCS1v15(), hashes.SHA256())),
        "AES-GCM seal of the secret": per_call(lambda: crypto.seal(key16, bytes(12), b"s" * 32, data[:137])),
    }


async def load(port: int, sp_public: bytes, clients: int, seconds: float) -> tuple[int, int, float]:
    platform = SimPlatform.from_seed(DEMO_PLATFORM_SEED.encode())
    done, failed = 0, 0
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.monotonic() < stop_at:
            session = ClientSession(SimEnclave(SimQuotingEnclave(platform), EnclaveIdentity(), sp_public))
            try:
                verdict = await attest_tcp(session, "127.0.0.1", port, timeout=30)
                done += verdict.trusted
                failed += not verdict.trusted
            except Exception:  # noqa: BLE001 - a load test counts failures, whatever they are
                failed += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done, failed, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ias_and_sp(Path(tmp)) as launched:
        asyncio.run(load(launched.port, launched.sp_public, 4, 1.0))  # warm-up
        before = cpu_seconds(launched.sp.pid)
        done, failed, elapsed = asyncio.run(load(launched.port, launched.sp_public, args.clients, args.seconds))
        sp_cpu = cpu_seconds(launched.sp.pid) - before
    floor = crypto_floor_us()
    if not done:
        print(f"no attestation succeeded ({failed} failed)", file=sys.stderr)
        return 1
    per_attestation = sp_cpu / done * 1e6
    floor_total = sum(floor.values())
    print(f"{args.clients} concurrent clients for {elapsed:.1f} s: {done} attestations trusted, {failed} failed")
    print(f"end to end: {done / elapsed:.0f} attestations/s (clients, SP and mock IAS share this machine's "
          f"{os.cpu_count()} cores)")
    print(f"SP process CPU: {sp_cpu:.2f} s, {per_attestation:.0f} us per attestation")
    print("bare SP crypto per attestation, measured now:")
    for name, us in floor.items():
        print(f"  {name:34s} {us:8.1f} us")
    print(f"  {'total (the floor)':34s} {floor_total:8.1f} us")
    print(f"server_cpu_vs_crypto_floor={per_attestation / floor_total:.2f} attestations_per_s={done / elapsed:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
