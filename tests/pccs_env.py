"""Helpers for the PCCS tests: a service over a store, served on loopback."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from cryptography import x509

from sgxra.pccs.service import Mode, PccsService
from sgxra.pccs.store import SqliteStore, Store
from sgxra.pcs.client import PcsClient, PcsSettings

VECTORS = Path(__file__).resolve().parent.parent.parent / "shared" / "vectors" / "dcap"
DCAP_QVL_DATA = Path(__file__).parent / "data" / "dcap-qvl"
ADMIN_TOKEN, USER_TOKEN = "admin-secret", "user-secret"


def sha512(token: str) -> str:
    return hashlib.sha512(token.encode()).hexdigest()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def upstream_for(url: str) -> PcsClient:
    return PcsClient(PcsSettings(base_url=url + "/sgx/certification/v4", retries=0, backoff=0.01, timeout=5))


def service(tmp: Path, mode: Mode, root: x509.Certificate, clock: Clock, *, upstream: PcsClient | None = None,
            store: Store | None = None, **options: object) -> PccsService:
    return PccsService(store or SqliteStore(tmp / "pccs.sqlite"), mode, root, clock=clock, upstream=upstream,
                       **options)  # type: ignore[arg-type]
