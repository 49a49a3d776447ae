"""A service-provider handshake whose verifier is the IAS client talking to the mock."""

from __future__ import annotations

import base64
import json

from conftest import World
from ias_env import PKI, client_for, now
from servers import ServerThread
from sgxra.ias import IasVerifier
from sgxra.ias.mock import Answer, MockIas, create_app
from sgxra.ias.mock_config import MockIasConfig, MockPlatform
from sgxra.protocol import complete_with
from sgxra.protocol.msg4 import seal_msg4
from sgxra.wire import AttestationStatus, Msg3
from sgxra.wire.ias_report import QuoteStatus

KEY = "handshake-key"


def mock_config(status: QuoteStatus = QuoteStatus.OK) -> MockIasConfig:
    return MockIasConfig(subscription_keys=(KEY,), platforms=(MockPlatform("test platform", status=status),))


def test_handshake_through_ias_completes(world: World) -> None:
    client, sp = world.pair()
    with ServerThread(create_app(MockIas(mock_config(), PKI, now))) as server:
        with client_for(server, primary_key=KEY) as ias:
            need = sp.receive_msg0_msg1(client.start())
            msg3 = client.receive_msg2(sp.send_msg2(ias.get_sigrl(need.gid)))
            outcome = complete_with(sp, msg3, IasVerifier(ias, clock=now, root=PKI.root))
    assert outcome.msg4.status is AttestationStatus.Trusted, outcome.reason
    sk, mk = sp.keys
    sealed = seal_msg4(outcome.msg4.status, outcome.reason_code, outcome.msg4.platform_info_blob, sk=sk, mk=mk)
    assert client.receive_msg4(sealed).status is AttestationStatus.Trusted
    assert sp.keys == client.keys
    assert outcome.evidence is not None and outcome.evidence.kind == "epid" and outcome.evidence.simulated


def test_out_of_date_platform_gets_its_platform_info_blob(world: World) -> None:
    client, sp = world.pair()
    with ServerThread(create_app(MockIas(mock_config(QuoteStatus.GROUP_OUT_OF_DATE), PKI, now))) as server:
        with client_for(server, primary_key=KEY) as ias:
            sp.receive_msg0_msg1(client.start())
            msg3 = client.receive_msg2(sp.send_msg2())
            outcome = complete_with(sp, msg3, IasVerifier(ias, clock=now, root=PKI.root))
    assert outcome.msg4.status is AttestationStatus.NotTrusted_ItsComplicated
    assert outcome.msg4.platform_info_blob.gid == world.platform.gid
    assert "GROUP_OUT_OF_DATE" in outcome.reason


class SwappingMock(MockIas):
    """A dishonest service that reports on another quote than the one submitted."""

    other_quote = b""

    def report(self, version: int, body: bytes) -> Answer:
        request = json.loads(body)
        request["isvEnclaveQuote"] = base64.b64encode(self.other_quote).decode()
        return super().report(version, json.dumps(request).encode())


def test_report_about_another_quote_is_refused(world: World) -> None:
    other_client, other_sp = world.pair()
    other_sp.receive_msg0_msg1(other_client.start())
    other_msg3 = other_client.receive_msg2(other_sp.send_msg2())

    mock = SwappingMock(mock_config(), PKI, now)
    mock.other_quote = Msg3.parse(other_msg3).quote
    client, sp = world.pair()
    with ServerThread(create_app(mock)) as server, client_for(server, primary_key=KEY) as ias:
        sp.receive_msg0_msg1(client.start())
        msg3 = client.receive_msg2(sp.send_msg2())
        outcome = complete_with(sp, msg3, IasVerifier(ias, clock=now, root=PKI.root))
    assert outcome.msg4.status is AttestationStatus.NotTrusted
    assert "different quote" in outcome.reason
