"""DCAP collateral: fetching from PCS or PCCS, caching, a PCS-compatible mock, and a quote verifier."""

from sgxra.pcs.cache import CollateralCache
from sgxra.pcs.client import INTEL_PCS_V4, PcsClient, PcsSettings

__all__ = ["INTEL_PCS_V4", "CollateralCache", "PcsClient", "PcsSettings"]
