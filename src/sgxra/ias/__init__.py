"""The Intel Attestation Service: a client for its real API, a verifier, and a mock."""

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

# Imported on first use: `sgxra.ias.mock_config` alone does not load httpx.
_EXPORTS = {
    "DEV_BASE_URL": "sgxra.ias.client",
    "PROD_BASE_URL": "sgxra.ias.client",
    "AsyncIasClient": "sgxra.ias.client",
    "IasClient": "sgxra.ias.client",
    "IasReportResponse": "sgxra.ias.client",
    "IasSettings": "sgxra.ias.client",
    "AsyncIasVerifier": "sgxra.ias.verifier",
    "IasVerifier": "sgxra.ias.verifier",
    "evidence_from_report": "sgxra.ias.verifier",
}

if TYPE_CHECKING:
    from sgxra.ias.client import (
        DEV_BASE_URL,
        PROD_BASE_URL,
        AsyncIasClient,
        IasClient,
        IasReportResponse,
        IasSettings,
    )
    from sgxra.ias.verifier import AsyncIasVerifier, IasVerifier, evidence_from_report
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = [
    "DEV_BASE_URL",
    "PROD_BASE_URL",
    "AsyncIasClient",
    "AsyncIasVerifier",
    "IasClient",
    "IasReportResponse",
    "IasSettings",
    "IasVerifier",
    "evidence_from_report",
]
