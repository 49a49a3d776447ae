"""Simulation mode: a software enclave and quoting enclave, for development and tests.

Everything here is labelled simulated; its keys are not Intel's.
"""

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

# Imported on first use: `sgxra.sim.sample_keys` alone does not load the simulated enclave and protocol.
_EXPORTS = {
    "EnclaveIdentity": "sgxra.sim.enclave",
    "SimEnclave": "sgxra.sim.enclave",
    "SimEpidRegistry": "sgxra.sim.epid",
    "SimEpidVerifier": "sgxra.sim.epid",
    "SimPlatform": "sgxra.sim.epid",
    "SimQuotingEnclave": "sgxra.sim.epid",
    "SAMPLE_SP_PRIVATE_KEY_LE": "sgxra.sim.sample_keys",
    "SAMPLE_SP_PUBLIC_KEY_LE": "sgxra.sim.sample_keys",
}

if TYPE_CHECKING:
    from sgxra.sim.enclave import EnclaveIdentity, SimEnclave
    from sgxra.sim.epid import (
        SimEpidRegistry,
        SimEpidVerifier,
        SimPlatform,
        SimQuotingEnclave,
    )
    from sgxra.sim.sample_keys import SAMPLE_SP_PRIVATE_KEY_LE, SAMPLE_SP_PUBLIC_KEY_LE
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

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
