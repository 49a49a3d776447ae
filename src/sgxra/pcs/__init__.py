"""DCAP collateral: fetching from PCS or PCCS, caching, a PCS-compatible mock, and a quote verifier."""

from typing import TYPE_CHECKING

from sgxra._lazy import lazy_exports

# Imported on first use: `sgxra.pcs.key` alone does not load httpx.
_EXPORTS = {
    "CachedCollateralExpired": "sgxra.pcs.cache",
    "CollateralCache": "sgxra.pcs.cache",
    "INTEL_PCS_V4": "sgxra.pcs.client",
    "PcsClient": "sgxra.pcs.client",
    "PcsSettings": "sgxra.pcs.client",
    "CollateralKey": "sgxra.pcs.key",
}

if TYPE_CHECKING:
    from sgxra.pcs.cache import CachedCollateralExpired, CollateralCache
    from sgxra.pcs.client import INTEL_PCS_V4, PcsClient, PcsSettings
    from sgxra.pcs.key import CollateralKey
else:
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = ["INTEL_PCS_V4", "CachedCollateralExpired", "CollateralCache", "CollateralKey", "PcsClient", "PcsSettings"]
