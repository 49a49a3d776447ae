"""Random bytes fed to the state machines raise only SgxRaError subclasses."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import World
from sgxra.errors import SgxRaError
from sgxra.protocol import ClientSession, ServiceProviderSession, SpPendingState

WORLD = World()
_client = ClientSession(WORLD.enclave())
_sp = ServiceProviderSession(WORLD.config)
_sp.receive_msg0_msg1(_client.start())
_sp.send_msg2()
PENDING = _sp.pending


@given(raw=st.binary(max_size=200))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_msg0_msg1(raw: bytes) -> None:
    sp = ServiceProviderSession(WORLD.config)
    try:
        sp.receive_msg0_msg1(raw)
    except SgxRaError:
        pass


@given(raw=st.binary(max_size=1500))
@settings(max_examples=150, deadline=None)
def test_random_msg3(raw: bytes) -> None:
    sp = ServiceProviderSession.resume(WORLD.config, PENDING)
    try:
        sp.receive_msg3(raw)
    except SgxRaError:
        pass


@given(raw=st.binary(max_size=400))
@settings(max_examples=100, deadline=None)
def test_random_msg2(raw: bytes) -> None:
    client = ClientSession(WORLD.enclave())
    client.start()
    try:
        client.receive_msg2(raw)
    except SgxRaError:
        pass


@given(text=st.text(max_size=300))
@settings(max_examples=150, deadline=None)
def test_random_pending_state(text: str) -> None:
    try:
        SpPendingState.from_json(text)
    except SgxRaError:
        pass
