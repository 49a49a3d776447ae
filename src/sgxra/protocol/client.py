"""The client's side of msg0..msg4 as a sans-IO state machine.

The cryptography that SGX keeps inside the enclave (ephemeral key, msg2
checks, report_data binding, session keys) is asked of an
:class:`EnclaveBackend`: the simulated enclave today, hardware later.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sgxra.errors import LocalProtocolError, RemoteProtocolError
from sgxra.protocol._steps import StepMachine
from sgxra.protocol.msg4 import OpenedMsg4
from sgxra.wire.messages import AttestationStatus, Msg0, Msg0Msg1, Msg1, Msg2, Msg3, Msg4
from sgxra.wire.msg4_auth import AuthenticatedMsg4, ReasonCode
from sgxra.wire.platform_info import PlatformInfoBlob


class EnclaveBackend(Protocol):
    """What sgx_ra_init / get_msg1 / proc_msg2 / get_keys do, for one session."""

    def extended_epid_group_id(self) -> int: ...

    def get_msg1(self) -> Msg1: ...

    def proc_msg2(self, msg2: Msg2) -> Msg3:
        """Check msg2 (signature, MAC, KDF) and return msg3; raise on a bad msg2."""
        ...

    def get_keys(self) -> tuple[bytes, bytes]:
        """(SK, MK) after a successful proc_msg2."""
        ...

    def open_msg4(self, data: bytes) -> OpenedMsg4:
        """Check an authenticated msg4 under MK and unseal its secret under SK."""
        ...


class ClientState(enum.Enum):
    """Where the client's side of msg0..msg4 stands."""
    START = "start"
    WAIT_MSG2 = "wait_msg2"
    WAIT_MSG4 = "wait_msg4"
    DONE = "done"
    ERROR = "error"


@dataclass(frozen=True, repr=False)
class ClientVerdict:
    """What the service provider's msg4 said, and whether it could have been forged on the way."""

    status: AttestationStatus
    reason: ReasonCode | None  # None: the sample's msg4 has no reason code
    platform_info_blob: PlatformInfoBlob
    secret: bytes | None
    authenticated: bool

    @property
    def trusted(self) -> bool:
        return self.status in (AttestationStatus.Trusted, AttestationStatus.Trusted_ItsComplicated)

    def __repr__(self) -> str:
        return (f"ClientVerdict(status={self.status.name}, reason={self.reason.name if self.reason else None}, "
                f"authenticated={self.authenticated}, secret={'<present>' if self.secret else None})")


class ClientSession(StepMachine[ClientState]):
    """``require_authenticated_msg4``: refuse the sample's unauthenticated msg4 (on by default,
    since anyone on the path could rewrite its verdict; turn off to talk to Intel's sample SP)."""

    def __init__(self, enclave: EnclaveBackend, *, require_authenticated_msg4: bool = True) -> None:
        self.enclave = enclave
        super().__init__(ClientState.START, ClientState.ERROR)
        self.require_authenticated_msg4 = require_authenticated_msg4
        self.verdict: ClientVerdict | None = None

    def start(self) -> bytes:
        """msg0 || msg1, the first message the sample's client sends."""
        with self._step(ClientState.START, "start", remote=False):
            msg = Msg0Msg1(Msg0(self.enclave.extended_epid_group_id()), self.enclave.get_msg1())
            self.state = ClientState.WAIT_MSG2
            return msg.to_bytes()

    def receive_msg2(self, data: bytes) -> bytes:
        with self._step(ClientState.WAIT_MSG2, "msg2", remote=True):
            msg3 = self.enclave.proc_msg2(Msg2.parse(data))
            self.state = ClientState.WAIT_MSG4
            return msg3.to_bytes()

    def receive_msg4(self, data: bytes) -> ClientVerdict:
        with self._step(ClientState.WAIT_MSG4, "msg4", remote=True):
            if AuthenticatedMsg4.is_authenticated(data):
                opened = self.enclave.open_msg4(data)
                verdict = ClientVerdict(opened.status, opened.reason, opened.platform_info_blob, opened.secret, True)
            elif self.require_authenticated_msg4:
                raise RemoteProtocolError("msg4 is the sample's unauthenticated form; its verdict could be forged")
            else:
                msg4 = Msg4.parse(data)
                verdict = ClientVerdict(msg4.status, None, msg4.platform_info_blob, None, False)
            self.verdict = verdict
            self.state = ClientState.DONE
            return verdict

    @property
    def keys(self) -> tuple[bytes, bytes]:
        if self.state not in (ClientState.WAIT_MSG4, ClientState.DONE):
            raise LocalProtocolError(f"session keys are not established in state {self.state.value}")
        return self.enclave.get_keys()
