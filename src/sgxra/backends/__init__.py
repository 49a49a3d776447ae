"""Where quotes come from: simulation, Gramine's ``/dev/attestation`` (SGX), Linux configfs-tsm (TDX)."""

from sgxra.backends.base import (
    BackendBusy,
    BackendEnclave,
    BackendError,
    BackendUnavailable,
    DeviceFiles,
    OsFiles,
    ProviderMismatch,
    QuoteSource,
)
from sgxra.backends.gramine import GramineAttestation
from sgxra.backends.tsm import TsmReport

__all__ = [
    "BackendBusy",
    "BackendEnclave",
    "BackendError",
    "BackendUnavailable",
    "DeviceFiles",
    "GramineAttestation",
    "OsFiles",
    "ProviderMismatch",
    "QuoteSource",
    "TsmReport",
]
