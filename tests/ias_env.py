"""A mock IAS on a real loopback socket, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from servers import ServerThread
from sgxra.ias import IasClient, IasSettings
from sgxra.ias.mock import MockIas, create_app
from sgxra.ias.mock_config import MockIasConfig
from sgxra.ias.mock_pki import MockIasPki

KEY = "test-primary-key"


def now() -> datetime:
    return datetime.now(timezone.utc)


PKI = MockIasPki.generate(now())


@contextmanager
def running_mock(config: MockIasConfig, *, clock: Any = now) -> Iterator[tuple[MockIas, ServerThread]]:
    mock = MockIas(config, PKI, clock)
    with ServerThread(create_app(mock)) as server:
        yield mock, server


def client_for(server: ServerThread, **overrides: Any) -> IasClient:
    settings: dict[str, Any] = {"base_url": server.url, "primary_key": KEY, "timeout": 2.0, "retries": 2,
                                "backoff": 0.01}
    settings.update(overrides)
    return IasClient(IasSettings(**settings))
