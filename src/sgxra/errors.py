"""The one error hierarchy of sgxra, rooted at :class:`SgxRaError`.

Programs map each family to its own exit code; see ``sgxra.cli``.
"""

from __future__ import annotations

from collections.abc import Sequence


class SgxRaError(Exception):
    """Base of every error sgxra raises on purpose."""


class MalformedMessage(SgxRaError):
    """Bytes that do not form the named structure.

    ``structure`` and ``field`` say what was being read, ``offset`` where (in
    bytes from the start of ``structure``).
    """

    def __init__(self, structure: str, field: str, offset: int, reason: str) -> None:
        self.structure = structure
        self.field = field
        self.offset = offset
        self.reason = reason
        super().__init__(f"malformed {structure}: field {field!r} at offset {offset}: {reason}")


class InvalidPoint(MalformedMessage):
    """A P-256 public key that is not a valid point on the curve."""


class ProtocolError(SgxRaError):
    """The key exchange cannot continue."""


class LocalProtocolError(ProtocolError):
    """Our side used the state machine wrongly (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""


class UnexpectedMessage(RemoteProtocolError):
    """A message arrived in a state that does not accept it."""


class BadMac(RemoteProtocolError):
    """A CMAC over a protocol message does not verify."""


class BadSignature(RemoteProtocolError):
    """The service provider's signature in msg2 does not verify."""


class KeyMismatch(RemoteProtocolError):
    """msg3's g_a differs from the one msg1 announced."""


class GroupMismatch(RemoteProtocolError):
    """The quote's EPID group differs from the one msg1 announced."""


class BindingMismatch(RemoteProtocolError):
    """The quote's report_data is not SHA256(g_a || g_b || VK) || 32 zero bytes."""


class VerificationError(SgxRaError):
    """Evidence (a quote or a report about it) is not genuine."""


class PolicyViolation(SgxRaError):
    """Genuine evidence that the relying party's policy does not accept."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = tuple(violations)
        super().__init__("policy refused the enclave: " + "; ".join(self.violations))
