"""``sgxra.verify``: the one call and the ``sgxra.verify`` package at once, cheap to import.

:class:`OneCall` lives here, apart from :mod:`sgxra.api`, so that ``import sgxra`` binds
``sgxra.verify`` without loading the verifiers, the PCS client and httpx.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from cryptography import x509

    from sgxra.api import CollateralFetcher, EvidenceInput
    from sgxra.validate.policy import Policy
    from sgxra.verify.result import DcapResult, IasResult
    from sgxra.wire.collateral import Collateral


class OneCall:
    """``sgxra.verify``: the one call (see ``__call__`` below), and still the ``sgxra.verify`` package.

    Calling it is :func:`sgxra.api.verify`. Any attribute is the package's, so
    ``sgxra.verify.dcap``, ``import sgxra.verify.dcap as dcap`` and
    ``from sgxra.verify import verify_report`` keep working.
    """

    def __call__(
        self, evidence: EvidenceInput, *, collateral: Collateral | None = None,
        fetcher: CollateralFetcher | None = None, policy: Policy | None = None, at: datetime | None = None,
        root: x509.Certificate | None = None,
    ) -> DcapResult | IasResult:
        """Verify any evidence and, given a policy, judge it: one call.

        ``evidence``: a DCAP quote (bytes or :class:`DcapQuote`; SGX or TDX is
        detected) or an IAS report (:class:`IasEvidence`, or its JSON as bytes).
        ``collateral``: the DCAP quote's collateral; without it the collateral is
        asked of ``fetcher`` (a :class:`CollateralCache`, or any callable taking a
        :class:`CollateralKey`), and without a fetcher of a cache at
        :func:`default_cache_path` over Intel's PCS. ``at``: the verification time
        (default: now). ``root``: trust this root instead of Intel's (a simulated
        PKI's); results under another root say ``simulated``.

        Returns a :class:`DcapResult` or :class:`IasResult`; with a policy, its
        ``policy`` holds the verdict and every violation (``result.accepted``).
        Evidence that is not genuine raises a :class:`~sgxra.errors.VerificationError`
        (or another :class:`~sgxra.errors.SgxRaError` naming what failed).
        """
        from sgxra.api import verify

        return verify(evidence, collateral=collateral, fetcher=fetcher, policy=policy, at=at, root=root)

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.modules["sgxra.verify"], name)

    def __repr__(self) -> str:
        return "<sgxra.verify: the one call, and the sgxra.verify package>"


one_call = OneCall()
