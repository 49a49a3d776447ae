"""Random bytes fed to the state machines raise only SgxRaError subclasses."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import World
from sgxra.errors import SgxRaError, VerificationError
from sgxra.protocol import ClientSession, Evidence, ServiceProviderSession, SpPendingState, SpState
from sgxra.wire import Msg3, ReportBody

WORLD = World()
_client = ClientSession(WORLD.enclave())
_sp = ServiceProviderSession(WORLD.config)
_sp.receive_msg0_msg1(_client.start())
_sp.send_msg2()
PENDING = _sp.pending


def _fresh_sp_msg0_msg1(raw: bytes) -> None:
    ServiceProviderSession(WORLD.config).receive_msg0_msg1(raw)


def _resumed_sp_msg3(raw: bytes) -> None:
    ServiceProviderSession.resume(WORLD.config, PENDING).receive_msg3(raw)


def _client_msg2(raw: bytes) -> None:
    client = ClientSession(WORLD.enclave())
    client.start()
    client.receive_msg2(raw)


# The pending state's JSON is fuzzed with the other parsers in test_fuzz.py.
FEEDERS = {"sp msg0||msg1": _fresh_sp_msg0_msg1, "sp msg3": _resumed_sp_msg3, "client msg2": _client_msg2}


@pytest.mark.parametrize("name", sorted(FEEDERS))
@given(raw=st.binary(max_size=1500))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_messages_raise_only_sgxra_errors(name: str, raw: bytes) -> None:
    try:
        FEEDERS[name](raw)
    except SgxRaError:
        pass


# --- random message sequences against the service provider's state machine ---------------------

OPERATIONS = ["msg0", "msg1", "msg0msg1", "send_msg2", "msg3", "evidence", "refuse", "unavailable", "resume"]


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, str, bytes]]:
    """Operations, each fed an honest message, a mutated one or random bytes."""
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(OPERATIONS))
        source = draw(st.sampled_from(["honest", "honest", "mutated", "random"]))
        steps.append((op, source, draw(st.binary(max_size=200))))
    return steps


def _mutate(data: bytes, noise: bytes) -> bytes:
    if not data or not noise:
        return data + noise
    at = noise[0] % len(data)
    return data[:at] + bytes([data[at] ^ (noise[-1] | 1)]) + data[at + 1 :]


def _pick(good: bytes, source: str, noise: bytes) -> bytes:
    return good if source == "honest" else _mutate(good, noise) if source == "mutated" else noise


@given(steps=operations())
@settings(deadline=None)
def test_random_sequences_only_raise_sgxra_errors(steps: list[tuple[str, str, bytes]]) -> None:
    honest = ClientSession(WORLD.enclave())
    msg01 = honest.start()
    sp = ServiceProviderSession(WORLD.config)
    msg3: bytes | None = None
    for op, source, noise in steps:
        was_error = sp.state is SpState.ERROR
        try:
            if op == "msg0":
                sp.receive_msg0(_pick(msg01[:4], source, noise))
            elif op == "msg1":
                sp.receive_msg1(_pick(msg01[4:], source, noise))
            elif op == "msg0msg1":
                sp.receive_msg0_msg1(_pick(msg01, source, noise))
            elif op == "send_msg2":
                msg2 = sp.send_msg2(noise if source == "random" else b"")
                if msg3 is None and honest.state.value == "wait_msg2":
                    msg3 = honest.receive_msg2(msg2)
            elif op == "msg3":
                sp.receive_msg3(_pick(msg3 or noise, source, noise))
            elif op == "evidence":
                sp.receive_evidence(WORLD.verifier.verify_quote(Msg3.parse(msg3).quote) if msg3 else _any_evidence())
            elif op == "refuse":
                sp.refuse_evidence(VerificationError("fuzz"))
            elif op == "unavailable":
                sp.service_unavailable(SgxRaError("fuzz"))
            elif op == "resume":
                state = SpPendingState.from_json(_pick(sp.pending.to_json().encode(), source, noise))
                sp = ServiceProviderSession.resume(WORLD.config, state)
        except SgxRaError:
            pass
        if was_error and op != "resume":
            assert sp.state is SpState.ERROR  # an error is final for the session
        if sp.state is SpState.DONE and sp.outcome is not None and sp.outcome.trusted:
            assert msg3 is not None and sp.outcome.evidence is not None  # trust only follows the honest path


def _any_evidence() -> Evidence:
    body = ReportBody.build(mr_enclave=bytes(32), mr_signer=bytes(32))
    return Evidence(kind="sim-epid", status="OK", report_body=body, simulated=True)
