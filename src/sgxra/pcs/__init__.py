"""DCAP collateral: fetching from PCS or PCCS, caching, a PCS-compatible mock, and a quote verifier."""

from sgxra.pcs.cache import CachedCollateralExpired, CollateralCache
from sgxra.pcs.client import INTEL_PCS_V4, PcsClient, PcsSettings
from sgxra.pcs.key import CollateralKey

__all__ = ["INTEL_PCS_V4", "CachedCollateralExpired", "CollateralCache", "CollateralKey", "PcsClient", "PcsSettings"]
