"""A policy as a TOML file, for example::

    mr_signers = ["bd71c6380ef77c5417e8b2d1ce2d4b6504b9f418e5049342440cfff2443d95bd"]
    mr_enclaves = []                 # empty: any enclave of an allowed signer
    isv_prod_id = 0                  # omit to accept any product
    min_isv_svn = 1
    allow_debug = false              # debug enclaves' memory is readable by the host
    accepted_statuses = ["OK", "UpToDate"]          # the others opt in, by name (never a revoked one)
    accepted_advisories = []         # e.g. ["INTEL-SA-00334"]
    report_max_age = 600             # seconds an IAS report may be old
    allow_simulated = false          # simulated platforms (development only)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgxra.validate.policy import Policy
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.ias_report import QuoteStatus

KNOWN_STATUSES = {s.value for s in QuoteStatus} | {s.value for s in TcbStatus}
# Opting into these would trust a platform Intel has revoked: no policy file may.
REVOKED_STATUSES = frozenset({QuoteStatus.GROUP_REVOKED.value, QuoteStatus.KEY_REVOKED.value,
                              QuoteStatus.SIGNATURE_REVOKED.value, TcbStatus.Revoked.value})
KEYS = {"mr_signers", "mr_enclaves", "isv_prod_id", "min_isv_svn", "allow_debug", "accepted_statuses",
        "accepted_advisories", "report_max_age", "allow_simulated"}


class PolicyFileError(ValueError):
    """The policy file is not valid; the message names the key."""


@dataclass(frozen=True)
class PolicyFile:
    policy: Policy
    report_max_age: float | None  # seconds; None: no freshness limit


def _measurements(data: dict[str, Any], key: str) -> frozenset[bytes]:
    values = data.get(key, [])
    if not isinstance(values, list):
        raise PolicyFileError(f"{key} must be a list of 64-hex-digit strings")
    out = set()
    for value in values:
        try:
            raw = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise PolicyFileError(f"{key}: {value!r} is not 32 bytes of hex")
        out.add(raw)
    return frozenset(out)


def _strings(data: dict[str, Any], key: str, default: frozenset[str]) -> frozenset[str]:
    values = data.get(key, sorted(default))
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PolicyFileError(f"{key} must be a list of strings")
    return frozenset(values)


def parse_policy(data: dict[str, Any]) -> PolicyFile:
    unknown = set(data) - KEYS
    if unknown:
        raise PolicyFileError(f"unknown policy keys: {', '.join(sorted(unknown))}")
    statuses = _strings(data, "accepted_statuses", Policy().accepted_statuses)
    if statuses - KNOWN_STATUSES:
        raise PolicyFileError(f"accepted_statuses: unknown {', '.join(sorted(statuses - KNOWN_STATUSES))}")
    if statuses & REVOKED_STATUSES:
        raise PolicyFileError(f"accepted_statuses: {', '.join(sorted(statuses & REVOKED_STATUSES))} cannot be "
                              "accepted: a revoked platform, key or signature is never trusted")
    for key in ("allow_debug", "allow_simulated"):
        if not isinstance(data.get(key, False), bool):
            raise PolicyFileError(f"{key} must be true or false")
    prod_id, min_svn, max_age = data.get("isv_prod_id"), data.get("min_isv_svn", 0), data.get("report_max_age", 600)
    for key, value in (("isv_prod_id", prod_id), ("min_isv_svn", min_svn)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF):
            raise PolicyFileError(f"{key} must be an integer 0..65535")
    if max_age is not None and (not isinstance(max_age, (int, float)) or max_age <= 0):
        raise PolicyFileError("report_max_age must be a positive number of seconds")
    policy = Policy(
        mr_enclaves=_measurements(data, "mr_enclaves"), mr_signers=_measurements(data, "mr_signers"),
        isv_prod_id=prod_id, min_isv_svn=min_svn, allow_debug=data.get("allow_debug", False),
        accepted_statuses=statuses, accepted_advisories=_strings(data, "accepted_advisories", frozenset()),
        allow_simulated=data.get("allow_simulated", False),
    )
    return PolicyFile(policy, float(max_age) if max_age is not None else None)


def load_policy(path: Path) -> PolicyFile:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyFileError(f"cannot read the policy file {path}: {e}") from None
    try:
        return parse_policy(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise PolicyFileError(f"{path}: {e}") from None
