"""Distinct exit codes per failure kind, so scripts can tell them apart."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from sgxra.errors import (
    CertificateChainError,
    CertificateExpired,
    CertificateRevoked,
    CollateralExpired,
    EvidenceMismatch,
    MalformedMessage,
    PolicyViolation,
    ProtocolError,
    ServiceError,
    SgxRaError,
    SignatureInvalid,
    StaleEvidence,
    VerificationError,
)

OK = 0
FAILURE = 1
USAGE = 2  # click's own code for bad options
MALFORMED = 3
PROTOCOL = 4
NOT_GENUINE = 5
POLICY = 6
BAD_SIGNATURE = 7
BAD_CHAIN = 8
EXPIRED = 9
MISMATCH = 10
STALE = 11
REVOKED = 12
SERVICE = 13

# Most specific first: subclasses before their bases.
_CODES: tuple[tuple[type[SgxRaError], int], ...] = (
    (MalformedMessage, MALFORMED),
    (ProtocolError, PROTOCOL),
    (SignatureInvalid, BAD_SIGNATURE),
    (CertificateExpired, EXPIRED),
    (CollateralExpired, EXPIRED),
    (CertificateRevoked, REVOKED),
    (CertificateChainError, BAD_CHAIN),
    (EvidenceMismatch, MISMATCH),
    (StaleEvidence, STALE),
    (VerificationError, NOT_GENUINE),
    (PolicyViolation, POLICY),
    (ServiceError, SERVICE),
)


def exit_code_for(error: SgxRaError) -> int:
    for error_type, code in _CODES:
        if isinstance(error, error_type):
            return code
    return FAILURE


def fail(error: Exception, *, as_json: bool = False) -> NoReturn:
    """Say what failed (on stderr, or as one JSON object on stdout) and exit with its code."""
    code = exit_code_for(error) if isinstance(error, SgxRaError) else FAILURE
    if as_json:
        click.echo(json.dumps({"error": {"type": type(error).__name__, "message": str(error), "exit_code": code}}))
    else:
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
    sys.exit(code)
