"""Distinct exit codes per failure family, so scripts can tell them apart."""

from __future__ import annotations

from sgxra.errors import MalformedMessage, PolicyViolation, ProtocolError, SgxRaError, VerificationError

OK = 0
FAILURE = 1
USAGE = 2  # click's own code for bad options
MALFORMED = 3
PROTOCOL = 4
NOT_GENUINE = 5
POLICY = 6


def exit_code_for(error: SgxRaError) -> int:
    if isinstance(error, MalformedMessage):
        return MALFORMED
    if isinstance(error, ProtocolError):
        return PROTOCOL
    if isinstance(error, VerificationError):
        return NOT_GENUINE
    if isinstance(error, PolicyViolation):
        return POLICY
    return FAILURE
