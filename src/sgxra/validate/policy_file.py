"""A policy as a TOML file, for example::

    policy_id = "payments-enclave"   # named in signed results (policy_ids_matched)
    mr_signers = ["bd71c6380ef77c5417e8b2d1ce2d4b6504b9f418e5049342440cfff2443d95bd"]
    mr_enclaves = []                 # empty: any enclave of an allowed signer
    isv_prod_id = 0                  # omit to accept any product
    min_isv_svn = 1
    isv_ext_prod_id = "00..00"       # KSS, 16 bytes of hex; also isv_family_id (16), config_id (64)
    min_config_svn = 0
    allow_debug = false              # debug enclaves' and TDs' memory is readable by the host
    accepted_statuses = ["OK", "UpToDate"]          # the others opt in, by name; revoked ones never
    accepted_advisories = []         # e.g. ["INTEL-SA-00334"], or ["*"] for any not rejected
    rejected_advisories = []         # refused even under "*"
    max_collateral_age = 2592000     # seconds since TCB info, QE identity, PCK CRL (or IAS report) were issued
    platform_grace_period = 0        # seconds an OutOfDate platform stays accepted after its tcbDate
    min_tcb_evaluation_data_number = 17
    report_max_age = 600             # seconds an IAS report may be old
    allow_simulated = false          # simulated platforms (development only)

    [tdx]                            # lists of accepted hex values (48 bytes), empty: any
    mr_td = ["..."]
    rtmr0 = []                       # also rtmr1..rtmr3, mr_seam, mr_signer_seam, mr_config_id,
    min_tee_tcb_svn = "..."          # mr_owner, mr_owner_config; min_tee_tcb_svn: 16 bytes of hex

Every error of a file is reported at once; an unknown key is named with the valid ones.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sgxra.validate.policy import TDX_MEASUREMENTS, TDX_MODULE_MEASUREMENTS, Policy, TdxRules
from sgxra.wire.collateral import TcbStatus
from sgxra.wire.ias_report import QuoteStatus

KNOWN_STATUSES = {s.value for s in QuoteStatus} | {s.value for s in TcbStatus}
# Evidence from a revoked key, group or platform is never acceptable, whatever a file says.
REVOKED_STATUSES = frozenset({"GROUP_REVOKED", "KEY_REVOKED", "SIGNATURE_REVOKED", "Revoked"})
KEYS = ("policy_id", "mr_signers", "mr_enclaves", "isv_prod_id", "min_isv_svn", "isv_ext_prod_id", "isv_family_id",
        "config_id", "min_config_svn", "allow_debug", "accepted_statuses", "accepted_advisories",
        "rejected_advisories", "max_collateral_age", "platform_grace_period", "min_tcb_evaluation_data_number",
        "report_max_age", "allow_simulated", "tdx")
TDX_KEYS = (*TDX_MEASUREMENTS, *TDX_MODULE_MEASUREMENTS, "min_tee_tcb_svn")
MAX_U32 = 0xFFFFFFFF
MAX_SECONDS = 100 * 366 * 86400  # a century: any duration past it is a mistake (and overflows timedelta)
DEFAULT_REPORT_MAX_AGE = timedelta(minutes=10)  # how old an IAS report may be when a policy file says nothing
T = TypeVar("T")


class PolicyFileError(ValueError):
    """The policy file is not valid; ``errors`` lists every problem, each naming its key."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class PolicyFile:
    """A policy read from a file."""
    policy: Policy

    @property
    def report_max_age(self) -> float | None:
        """The file's IAS report freshness limit in seconds (None: no limit), as the policy holds it."""
        limit = self.policy.max_report_age
        return None if limit is None else limit.total_seconds()


class _Reader:
    """Reads keys of one table, collecting errors instead of stopping at the first."""

    def __init__(self, data: dict[str, Any], prefix: str, errors: list[str]) -> None:
        self.data, self.prefix, self.errors = data, prefix, errors

    def error(self, key: str, message: str) -> None:
        self.errors.append(f"{self.prefix}{key}: {message}")

    def get(self, key: str, default: T, parse: Callable[[Any], T | None], expected: str) -> T:
        if key not in self.data:
            return default
        value = parse(self.data[key])
        if value is None:
            self.error(key, f"must be {expected}, not {self.data[key]!r}")
            return default
        return value

    def hex_list(self, key: str, size: int) -> frozenset[bytes]:
        values = self.data.get(key, [])
        if not isinstance(values, list):
            self.error(key, f"must be a list of {2 * size}-hex-digit strings")
            return frozenset()
        out = set()
        for value in values:
            raw = _hex(value, size)
            if raw is None:
                self.error(key, f"{value!r} is not {size} bytes of hex")
            else:
                out.add(raw)
        return frozenset(out)

    def hex_value(self, key: str, size: int) -> bytes | None:
        return self.get(key, None, lambda v: _hex(v, size), f"{size} bytes of hex")

    def integer(self, key: str, default: int | None, top: int) -> int | None:
        return self.get(key, default, lambda v: v if type(v) is int and 0 <= v <= top else None, f"an integer 0..{top}")

    def flag(self, key: str) -> bool:
        return self.get(key, False, lambda v: v if isinstance(v, bool) else None, "true or false")

    def seconds(self, key: str, default: float | None, *, positive: bool) -> float | None:
        def parse(v: Any) -> float | None:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= MAX_SECONDS:
                return None  # NaN fails the range test too
            return float(v) if v > 0 or not positive else None
        return self.get(key, default, parse, f"{'a positive' if positive else '0 or a'} number of seconds up to "
                                             f"{MAX_SECONDS}")

    def strings(self, key: str, default: frozenset[str]) -> frozenset[str]:
        def parse(v: Any) -> frozenset[str] | None:
            return frozenset(v) if isinstance(v, list) and all(isinstance(s, str) for s in v) else None
        return self.get(key, default, parse, "a list of strings")

    def unknown(self, valid: tuple[str, ...]) -> None:
        for key in sorted(set(self.data) - set(valid)):
            self.error(key, f"unknown key; valid keys are {', '.join(valid)}")


def _hex(value: Any, size: int) -> bytes | None:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        return None
    return raw if len(raw) == size else None


def _tdx(data: Any, errors: list[str]) -> TdxRules | None:
    if not isinstance(data, dict):
        errors.append("tdx: must be a table ([tdx])")
        return None
    r = _Reader(data, "tdx.", errors)
    r.unknown(TDX_KEYS)
    lists = {name: r.hex_list(name, 48) for name in (*TDX_MEASUREMENTS, *TDX_MODULE_MEASUREMENTS)}
    return TdxRules(**lists, min_tee_tcb_svn=r.hex_value("min_tee_tcb_svn", 16))


def parse_policy(data: dict[str, Any]) -> PolicyFile:
    """The policy a parsed TOML document describes; :class:`PolicyFileError` lists every problem."""
    errors: list[str] = []
    r = _Reader(data, "", errors)
    r.unknown(KEYS)
    statuses = r.strings("accepted_statuses", Policy().accepted_statuses)
    if statuses - KNOWN_STATUSES:
        r.error("accepted_statuses", f"unknown {', '.join(sorted(statuses - KNOWN_STATUSES))}; known statuses are "
                                     f"{', '.join(sorted(KNOWN_STATUSES))}")
    if statuses & REVOKED_STATUSES:
        r.error("accepted_statuses", f"revoked evidence is never acceptable: remove "
                                     f"{', '.join(sorted(statuses & REVOKED_STATUSES))}")
    policy_id = r.get("policy_id", None, lambda v: v if isinstance(v, str) and 0 < len(v) <= 256 else None,
                      "a string of 1..256 characters")
    max_age = r.seconds("report_max_age", DEFAULT_REPORT_MAX_AGE.total_seconds(), positive=True)
    collateral_age = r.seconds("max_collateral_age", None, positive=True)
    grace = r.seconds("platform_grace_period", None, positive=False)
    tdx = _tdx(data["tdx"], errors) if "tdx" in data else None
    policy = Policy(
        mr_enclaves=r.hex_list("mr_enclaves", 32), mr_signers=r.hex_list("mr_signers", 32),
        isv_prod_id=r.integer("isv_prod_id", None, 0xFFFF), min_isv_svn=r.integer("min_isv_svn", 0, 0xFFFF) or 0,
        isv_ext_prod_id=r.hex_value("isv_ext_prod_id", 16), isv_family_id=r.hex_value("isv_family_id", 16),
        config_id=r.hex_value("config_id", 64), min_config_svn=r.integer("min_config_svn", 0, 0xFFFF) or 0,
        allow_debug=r.flag("allow_debug"), accepted_statuses=statuses - REVOKED_STATUSES,
        accepted_advisories=r.strings("accepted_advisories", frozenset()),
        rejected_advisories=r.strings("rejected_advisories", frozenset()), allow_simulated=r.flag("allow_simulated"),
        max_collateral_age=timedelta(seconds=collateral_age) if collateral_age is not None else None,
        platform_grace_period=timedelta(seconds=grace) if grace is not None else None,
        min_tcb_evaluation_data_number=r.integer("min_tcb_evaluation_data_number", None, MAX_U32),
        max_report_age=timedelta(seconds=max_age) if max_age is not None else None,
        tdx=tdx, policy_id=policy_id,
    )
    if errors:
        raise PolicyFileError(errors)
    return PolicyFile(policy)


def load_policy(path: Path) -> PolicyFile:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyFileError([f"cannot read the policy file {path}: {e}"]) from None
    try:
        return parse_policy(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise PolicyFileError([f"{path}: {e}"]) from None
    except PolicyFileError as e:
        raise PolicyFileError([f"{path}: {error}" for error in e.errors]) from None
