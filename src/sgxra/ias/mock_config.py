"""What the mock IAS knows: subscription keys, simulated platforms and groups, faults.

A TOML file, for example::

    subscription_keys = ["0123456789abcdef0123456789abcdef"]  # real keys are 32 hex digits

    [[platform]]
    seed = "sgxra demo platform"   # SimPlatform.from_seed(seed, gid)
    gid = "00000ae0"
    status = "SW_HARDENING_NEEDED" # isvEnclaveQuoteStatus for its quotes
    advisories = ["INTEL-SA-00334"]

    [[group]]                     # groups of the platforms are known too; any other gets 404 / 400
    gid = "00000ae0"
    sigrl = "<base64>"            # served by /sigrl/{gid}
    revoked = false               # GROUP_REVOKED for every quote of the group

    [faults]
    unavailable = 0               # answer 503 to the next N requests
    server_error = 0              # answer 500 to the next N requests
    drop = 0                      # cut the connection in the middle of the next N answers
    delay = 0.0                   # seconds before every answer
"""

from __future__ import annotations

import base64
import binascii
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgxra.sim.epid import DEFAULT_GID
from sgxra.wire.ias_report import QuoteStatus

# 32 hex digits, the shape of a real IAS subscription key (Intel's sample SP refuses any other).
DEMO_SUBSCRIPTION_KEY = b"sgxra-demo-key-1".hex()
DEMO_PLATFORM_SEED = "sgxra demo platform"


class MockConfigError(ValueError):
    """The mock's TOML file is not valid; the message names the entry."""


@dataclass(frozen=True)
class MockPlatform:
    """A simulated EPID platform the IAS mock knows, and the verdict it gets."""
    seed: str
    gid: int = DEFAULT_GID
    status: QuoteStatus = QuoteStatus.OK
    advisories: tuple[str, ...] = ()
    revocation_reason: int | None = None


@dataclass(frozen=True)
class MockGroup:
    """A simulated EPID group: its SigRL and whether it is revoked."""
    gid: int
    sigrl: bytes = b""
    revoked: bool = False


@dataclass(frozen=True)
class MockIasConfig:
    """Everything the IAS mock serves: keys, platforms, groups and injected faults."""
    subscription_keys: tuple[str, ...] = (DEMO_SUBSCRIPTION_KEY,)
    platforms: tuple[MockPlatform, ...] = (MockPlatform(DEMO_PLATFORM_SEED),)
    groups: tuple[MockGroup, ...] = field(default_factory=tuple)
    unavailable: int = 0
    server_error: int = 0
    drop: int = 0
    delay: float = 0.0

    @classmethod
    def load(cls, path: Path) -> MockIasConfig:
        try:
            return cls.from_dict(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as e:
            raise MockConfigError(f"{path}: {e}") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MockIasConfig:
        keys = data.get("subscription_keys", [DEMO_SUBSCRIPTION_KEY])
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise MockConfigError("subscription_keys must be a non-empty list of strings")
        faults = data.get("faults", {})
        return cls(
            subscription_keys=tuple(keys),
            platforms=tuple(_platform(i, p) for i, p in enumerate(data.get("platform", []))),
            groups=tuple(_group(i, g) for i, g in enumerate(data.get("group", []))),
            unavailable=_int(faults.get("unavailable", 0), "faults.unavailable"),
            server_error=_int(faults.get("server_error", 0), "faults.server_error"),
            drop=_int(faults.get("drop", 0), "faults.drop"),
            delay=float(faults.get("delay", 0.0)),
        )


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MockConfigError(f"{where} must be a non-negative integer")
    return value


def _gid(value: Any, where: str) -> int:
    """A GID as IAS writes it (8 hex digits) or an integer."""
    if isinstance(value, str):
        try:
            value = int(value, 16)
        except ValueError:
            raise MockConfigError(f"{where}.gid {value!r} is not hex") from None
    gid = _int(value, f"{where}.gid")
    if gid >= 1 << 32:
        raise MockConfigError(f"{where}.gid does not fit in 32 bits")
    return gid


def _platform(index: int, entry: dict[str, Any]) -> MockPlatform:
    where = f"platform[{index}]"
    seed = entry.get("seed")
    if not isinstance(seed, str) or not seed:
        raise MockConfigError(f"{where}.seed must be a non-empty string")
    try:
        status = QuoteStatus(entry.get("status", "OK"))
    except ValueError:
        raise MockConfigError(f"{where}.status {entry.get('status')!r} is not an IAS quote status") from None
    advisories = entry.get("advisories", [])
    if not isinstance(advisories, list) or not all(isinstance(a, str) for a in advisories):
        raise MockConfigError(f"{where}.advisories must be a list of strings")
    reason = entry.get("revocation_reason")
    return MockPlatform(
        seed=seed, gid=_gid(entry.get("gid", DEFAULT_GID), where), status=status, advisories=tuple(advisories),
        revocation_reason=None if reason is None else _int(reason, f"{where}.revocation_reason"),
    )


def _group(index: int, entry: dict[str, Any]) -> MockGroup:
    where = f"group[{index}]"
    try:
        sigrl = base64.b64decode(entry.get("sigrl", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise MockConfigError(f"{where}.sigrl is not base64") from None
    return MockGroup(gid=_gid(entry.get("gid"), where), sigrl=sigrl, revoked=bool(entry.get("revoked", False)))
