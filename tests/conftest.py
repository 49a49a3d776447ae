from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from sgxra import crypto
from sgxra.protocol import ClientSession, ServiceProviderSession, SpConfig
from sgxra.sim import (
    SAMPLE_SP_PRIVATE_KEY_LE,
    EnclaveIdentity,
    SimEnclave,
    SimEpidRegistry,
    SimEpidVerifier,
    SimPlatform,
    SimQuotingEnclave,
)
from sgxra.validate import Policy
from vectors_env import VECTORS, RealSgx


@pytest.fixture(scope="session")
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.skip(f"real Intel vectors not present at {VECTORS} (they live in ../shared, outside the repository)")
    return VECTORS


@pytest.fixture(scope="session")
def real_sgx(vectors: Path) -> RealSgx:
    """The real SGX v3 quote and its collateral, read once (skipped as ``vectors`` is where they are absent)."""
    return RealSgx.load()


@pytest.fixture(scope="session")
def sample_session(vectors: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((vectors / "ra-sample" / "readme_session.json").read_text())
    return data


SPID = hashlib.sha256(b"test spid").digest()[:16]
IDENTITY = EnclaveIdentity()


class World:
    """A simulated platform, its registry and a service provider configuration."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.platform = SimPlatform.from_seed(b"test platform")
        self.registry = SimEpidRegistry()
        self.registry.register(self.platform)
        self.verifier = SimEpidVerifier(self.registry)
        self.config = SpConfig(
            signing_key=crypto.private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE),
            spid=SPID,
            policy=policy or Policy(mr_signers=frozenset({IDENTITY.mr_signer}), allow_simulated=True),
        )

    def enclave(self, identity: EnclaveIdentity = IDENTITY, **kwargs: Any) -> SimEnclave:
        return SimEnclave(SimQuotingEnclave(self.platform), identity, **kwargs)

    def pair(self, identity: EnclaveIdentity = IDENTITY) -> tuple[ClientSession, ServiceProviderSession]:
        return ClientSession(self.enclave(identity)), ServiceProviderSession(self.config)


@pytest.fixture
def world() -> World:
    return World()


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]




# Fuzzing budgets: `make test` runs the default; `make fuzz` sets HYPOTHESIS_PROFILE=fuzz.
settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile("fuzz", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
