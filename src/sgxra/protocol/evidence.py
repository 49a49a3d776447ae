"""What the service provider asks of evidence verifiers and policies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sgxra.wire.platform_info import PlatformInfoBlob
from sgxra.wire.report_body import ReportBody

# Statuses meaning "genuine and fully up to date" (IAS and DCAP spellings).
UP_TO_DATE_STATUSES = frozenset({"OK", "UpToDate"})


@dataclass(frozen=True)
class Evidence:
    """Genuine evidence, as a verifier found it (not yet judged by policy)."""

    kind: str  # "epid", "ecdsa" or "sim-epid"
    status: str  # IAS isvEnclaveQuoteStatus or DCAP TCB status
    report_body: ReportBody
    advisory_ids: tuple[str, ...] = ()
    platform_info_blob: PlatformInfoBlob | None = None
    epid_pseudonym: bytes | None = None
    simulated: bool = False
    details: dict[str, str] = field(default_factory=dict)
    # What the platform rules of a policy read, as the results (DcapResult, IasResult) name them; None where
    # the verifier has none (a simulated EPID quote has no collateral).
    verified_at: datetime | None = None
    tcb_date: datetime | None = None  # the matched TCB level's (DCAP)
    collateral_issued: datetime | None = None  # the oldest collateral item (DCAP), the report's timestamp (IAS)
    tcb_evaluation_data_number: int | None = None

    @property
    def up_to_date(self) -> bool:
        return self.status in UP_TO_DATE_STATUSES


class Verifier(Protocol):
    """Checks that a quote is genuine; raises :class:`VerificationError` if not."""

    def verify_quote(self, quote: bytes) -> Evidence: ...


@dataclass(frozen=True)
class Violation:
    """One policy rule the evidence broke; ``platform`` ones the platform can fix by updating."""

    rule: str
    message: str
    platform: bool = False

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class PolicyChecker(Protocol):
    """Judges genuine evidence; returns every violation (empty means accepted)."""

    def violations(self, evidence: Evidence) -> Sequence[Violation]: ...
