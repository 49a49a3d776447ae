"""Interop details: the mock's default subscription key, and `sgxra client --gid` against groups the mock knows."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import IDENTITY, World
from ias_env import PKI, client_for, now, quote_from, running_mock
from sgxra.cli.client_command import client_cmd, make_quoting_enclave
from sgxra.errors import ServiceBadRequest, ServiceNotFound
from sgxra.ias import IasVerifier
from sgxra.ias.mock_config import DEMO_SUBSCRIPTION_KEY, MockGroup, MockIasConfig, MockPlatform
from sgxra.protocol import ClientSession, ServiceProviderSession, complete_with
from sgxra.sim import SimEnclave
from sgxra.wire import AttestationStatus
from sgxra.wire.messages import Msg0Msg1

GROUP = 0x00000B00


def test_default_subscription_key_is_32_hex_digits_and_the_default_mock_takes_it() -> None:
    assert len(DEMO_SUBSCRIPTION_KEY) == 32 and all(c in string.hexdigits for c in DEMO_SUBSCRIPTION_KEY)
    with running_mock(MockIasConfig()) as (_, server), client_for(server, primary_key=DEMO_SUBSCRIPTION_KEY) as client:
        assert client.get_sigrl(0x00000AE0) == b""


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--gid", "b00"], "8 hex digits"), (["--gid", "0000zz00"], "8 hex digits"), (["--gid", "00000b000"], "8 hex"),
     (["--gid", "00000000"], "non-zero"), (["--platform", "ecdsa", "--gid", "00000b00"], "only EPID platforms")],
)
def test_client_gid_is_validated(args: list[str], message: str) -> None:
    result = CliRunner().invoke(client_cmd, [*args, "-z"], input="")
    assert result.exit_code == 2 and message in result.output


def test_client_gid_reaches_msg1() -> None:
    result = CliRunner().invoke(client_cmd, ["--gid", "00000B00", "-z"], input="")
    first_line = result.stdout_bytes.split(b"\n")[0]
    assert Msg0Msg1.parse(bytes.fromhex(first_line.decode())).msg1.gid == GROUP.to_bytes(4, "little")
    assert result.exit_code != 0  # the SP never answered (empty stdin)


def test_mock_refuses_a_group_it_does_not_know_clearly() -> None:
    platform = MockPlatform("p", gid=GROUP)
    config = MockIasConfig(subscription_keys=(DEMO_SUBSCRIPTION_KEY,), platforms=(platform,),
                           groups=(MockGroup(0x00000C00, sigrl=b"rl"),))
    with running_mock(config) as (_, server), client_for(server, primary_key=DEMO_SUBSCRIPTION_KEY) as client:
        assert client.get_sigrl(GROUP) == b"" and client.get_sigrl(0x00000C00) == b"rl"
        with pytest.raises(ServiceNotFound, match="EPID group 00000b01 is not known.*HTTP 404"):
            client.get_sigrl(0x00000B01)
        with pytest.raises(ServiceBadRequest, match="EPID group 00000b01 is not known.*HTTP 400"):
            client.get_report(quote_from("p", gid=0x00000B01))
        evidence = IasVerifier(client, clock=now, root=PKI.root).verify_quote(quote_from("p", gid=GROUP))
    assert evidence.status == "OK"


def test_handshake_of_a_client_in_a_chosen_group(tmp_path: Path) -> None:
    world = World()
    enclave = SimEnclave(make_quoting_enclave("epid", "chosen", tmp_path, GROUP), IDENTITY)
    client, sp = ClientSession(enclave), ServiceProviderSession(world.config)
    config = MockIasConfig(subscription_keys=(DEMO_SUBSCRIPTION_KEY,), platforms=(MockPlatform("chosen", gid=GROUP),))
    with running_mock(config) as (_, server), client_for(server, primary_key=DEMO_SUBSCRIPTION_KEY) as ias:
        need = sp.receive_msg0_msg1(client.start())
        msg3 = client.receive_msg2(sp.send_msg2(ias.get_sigrl(need.gid)))
        outcome = complete_with(sp, msg3, IasVerifier(ias, clock=now, root=PKI.root))
    assert need.gid == GROUP
    assert outcome.msg4.status is AttestationStatus.Trusted, outcome.reason
