"""The Intel Attestation Service: a client for its real API, a verifier, and a mock."""

from sgxra.ias.client import (
    DEV_BASE_URL,
    PROD_BASE_URL,
    AsyncIasClient,
    IasClient,
    IasReportResponse,
    IasSettings,
)
from sgxra.ias.verifier import AsyncIasVerifier, IasVerifier, evidence_from_report

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
