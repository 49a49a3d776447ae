"""`sgxra sp` runs on uvloop when it is installed, unless SGXRA_LOOP=asyncio says otherwise."""

from __future__ import annotations

import asyncio

import pytest

from sgxra.cli.sp_command import run_loop


async def on_uvloop() -> int:
    return int(type(asyncio.get_running_loop()).__module__.startswith("uvloop"))


def test_uvloop_when_installed_and_asyncio_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv("SGXRA_LOOP", raising=False)
    assert run_loop(on_uvloop()) == 1
    monkeypatch.setenv("SGXRA_LOOP", "asyncio")
    assert run_loop(on_uvloop()) == 0
