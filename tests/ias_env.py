"""A mock IAS on a real loopback socket, and clients pointed at it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from servers import ServerThread
from sgxra.ias import IasClient, IasSettings
from sgxra.ias.mock import MockIas, create_app
from sgxra.ias.mock_config import MockIasConfig
from sgxra.ias.mock_pki import MockIasPki
from sgxra.sim import EnclaveIdentity, SimPlatform, SimQuotingEnclave
from sgxra.wire import QuoteSignType

KEY = "test-primary-key"
GID = 0x00000AE0
SPID = hashlib.sha256(b"client test spid").digest()[:16]


def now() -> datetime:
    return datetime.now(timezone.utc)


PKI = MockIasPki.generate(now())


@contextmanager
def running_mock(config: MockIasConfig, *, clock: Any = now) -> Iterator[tuple[MockIas, ServerThread]]:
    mock = MockIas(config, PKI, clock)
    with ServerThread(create_app(mock)) as server:
        yield mock, server


def settings_for(url: str, **overrides: Any) -> IasSettings:
    """Settings for a mock at ``url``: the test key, short timeouts and backoff; ``overrides`` replace any."""
    settings: dict[str, Any] = {"base_url": url, "primary_key": KEY, "timeout": 2.0, "retries": 2, "backoff": 0.01}
    settings.update(overrides)
    return IasSettings(**settings)


def client_for(server: ServerThread, **overrides: Any) -> IasClient:
    return IasClient(settings_for(server.url, **overrides))


def quote_from(seed: str, gid: int = GID, quote_type: QuoteSignType = QuoteSignType.UNLINKABLE) -> bytes:
    """A quote from the simulated platform ``seed`` in group ``gid``, over report data 0x42...."""
    qe = SimQuotingEnclave(SimPlatform.from_seed(seed.encode(), gid))
    return qe.get_quote(EnclaveIdentity().report_body(b"\x42" * 64), quote_type, SPID)
