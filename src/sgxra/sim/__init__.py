"""Simulation mode: a software enclave and quoting enclave, for development and tests.

Everything here is labelled simulated; its keys are not Intel's.
"""

from sgxra.sim.enclave import EnclaveIdentity, SimEnclave
from sgxra.sim.epid import (
    SimEpidRegistry,
    SimEpidVerifier,
    SimPlatform,
    SimQuotingEnclave,
)
from sgxra.sim.sample_keys import SAMPLE_SP_PRIVATE_KEY_LE, SAMPLE_SP_PUBLIC_KEY_LE

__all__ = [
    "SAMPLE_SP_PRIVATE_KEY_LE",
    "SAMPLE_SP_PUBLIC_KEY_LE",
    "EnclaveIdentity",
    "SimEnclave",
    "SimEpidRegistry",
    "SimEpidVerifier",
    "SimPlatform",
    "SimQuotingEnclave",
]
