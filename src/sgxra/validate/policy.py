"""The relying party's policy: which genuine enclaves and TDs it accepts, on which platforms.

One policy judges every result: a DCAP SGX or TDX result, an IAS report
result, or the service provider's :class:`Evidence`. ``check`` returns every
violation (an empty list means accepted); ``verdict`` wraps them for a result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sgxra.protocol.evidence import UP_TO_DATE_STATUSES, Evidence, Violation
from sgxra.verify.result import DcapResult, IasResult, PolicyVerdict
from sgxra.wire.ias_report import ADVISORY_STATUSES
from sgxra.wire.report_body import ReportBody
from sgxra.wire.td_report import TdReport

# Statuses a platform leaves by updating (microcode, configuration, software).
PLATFORM_FIXABLE_STATUSES = frozenset({
    "GROUP_OUT_OF_DATE", "CONFIGURATION_NEEDED", "SW_HARDENING_NEEDED", "CONFIGURATION_AND_SW_HARDENING_NEEDED",
    "OutOfDate", "OutOfDateConfigurationNeeded", "ConfigurationNeeded", "SWHardeningNeeded",
    "ConfigurationAndSWHardeningNeeded", "TDRelaunchAdvised", "TDRelaunchAdvisedConfigurationNeeded",
})
# What an OutOfDate platform counts as while inside its grace period.
GRACE_STATUSES = {"OutOfDate": "UpToDate", "OutOfDateConfigurationNeeded": "ConfigurationNeeded"}
ANY_ADVISORY = "*"
TDX_MEASUREMENTS = ("mr_td", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id", "mr_owner", "mr_owner_config")
TDX_MODULE_MEASUREMENTS = ("mr_seam", "mr_signer_seam")
TD_DEBUG = 0x01  # TD_ATTRIBUTES bit 0 (TUD.DEBUG)

Judged = DcapResult | IasResult | Evidence


@dataclass(frozen=True)
class TdxRules:
    """The ``[tdx]`` table: each measurement a set of accepted values (empty accepts any).

    ``min_tee_tcb_svn`` is compared byte by byte: every TEE TCB SVN component
    must be at least the policy's. At least one TD measurement (``mr_td``,
    an RTMR, ``mr_config_id``, ``mr_owner``, ``mr_owner_config``) must be named.
    """

    mr_td: frozenset[bytes] = frozenset()
    rtmr0: frozenset[bytes] = frozenset()
    rtmr1: frozenset[bytes] = frozenset()
    rtmr2: frozenset[bytes] = frozenset()
    rtmr3: frozenset[bytes] = frozenset()
    mr_seam: frozenset[bytes] = frozenset()
    mr_signer_seam: frozenset[bytes] = frozenset()
    mr_config_id: frozenset[bytes] = frozenset()
    mr_owner: frozenset[bytes] = frozenset()
    mr_owner_config: frozenset[bytes] = frozenset()
    min_tee_tcb_svn: bytes | None = None

    def violations(self, td: TdReport, allow_debug: bool) -> list[Violation]:
        found: list[Violation] = []
        if not any(getattr(self, name) for name in TDX_MEASUREMENTS):
            found.append(Violation("identity", "policy names no TD measurement (mr_td, rtmr0..3, mr_config_id, "
                                               "mr_owner, mr_owner_config)"))
        for name in TDX_MEASUREMENTS + TDX_MODULE_MEASUREMENTS:
            accepted: frozenset[bytes] = getattr(self, name)
            value: bytes = getattr(td, name)
            if accepted and value not in accepted:
                found.append(Violation(f"tdx.{name}", f"{value.hex()} is not allowed"))
        if self.min_tee_tcb_svn is not None:
            low = [i for i, (have, need) in enumerate(zip(td.tee_tcb_svn, self.min_tee_tcb_svn, strict=True))
                   if have < need]
            if low:
                found.append(Violation("tdx.min_tee_tcb_svn", f"{td.tee_tcb_svn.hex()} is below "
                                       f"{self.min_tee_tcb_svn.hex()} at component(s) {low}", platform=True))
        if td.td_attributes[0] & TD_DEBUG and not allow_debug:
            found.append(Violation("debug", "TD runs in debug mode, which policy does not allow"))
        return found


@dataclass(frozen=True)
class Policy:
    """Every rule is checked and every failure reported.

    SGX enclaves: at least one of ``mr_enclaves`` and ``mr_signers`` must be
    non-empty (a policy that names no enclave accepts none); the KSS fields
    (``isv_ext_prod_id``, ``isv_family_id``, ``config_id``) must equal the
    report's when given. TDs: ``tdx`` must be given (see :class:`TdxRules`).

    Platform rules (both TEEs): the TCB status must be in ``accepted_statuses``;
    with ``platform_grace_period``, an OutOfDate platform counts as UpToDate
    (OutOfDateConfigurationNeeded as ConfigurationNeeded) until that long after
    its matched TCB level's tcbDate, and is refused after it even where
    ``accepted_statuses`` lists it (Intel's appraisal policies); every advisory must be in ``accepted_advisories`` ("*"
    accepts any) and none in ``rejected_advisories``; the collateral must be at
    most ``max_collateral_age`` old (from the oldest of TCB info, QE identity
    and PCK CRL; for IAS, the report's timestamp) at verification time; its TCB
    evaluation data number at least ``min_tcb_evaluation_data_number``.
    IAS reports: at most ``max_report_age`` old at verification time, and a
    status that calls for advisories (SW_HARDENING_NEEDED, ...) must name one
    (API v3 carries them in unsigned headers, which can be lost on the way).
    Simulated evidence is refused unless ``allow_simulated`` is set.
    """

    mr_enclaves: frozenset[bytes] = frozenset()
    mr_signers: frozenset[bytes] = frozenset()
    isv_prod_id: int | None = None
    min_isv_svn: int = 0
    allow_debug: bool = False
    accepted_statuses: frozenset[str] = field(default_factory=lambda: UP_TO_DATE_STATUSES)
    accepted_advisories: frozenset[str] = frozenset()
    allow_simulated: bool = False
    isv_ext_prod_id: bytes | None = None
    isv_family_id: bytes | None = None
    config_id: bytes | None = None
    min_config_svn: int = 0
    tdx: TdxRules | None = None
    rejected_advisories: frozenset[str] = frozenset()
    max_collateral_age: timedelta | None = None
    platform_grace_period: timedelta | None = None
    min_tcb_evaluation_data_number: int | None = None
    policy_id: str | None = None
    max_report_age: timedelta | None = None

    def violations(self, evidence: Evidence) -> list[Violation]:
        """The service provider's interface (:class:`PolicyChecker`): same as :meth:`check`."""
        return self.check(evidence)

    def check(self, result: Judged) -> list[Violation]:
        """Every rule ``result`` breaks; empty when the policy accepts it."""
        body = result.report_body if isinstance(result, Evidence) else result.body
        found = self._sgx(body) if isinstance(body, ReportBody) else self._tdx(body)
        if result.simulated and not self.allow_simulated:
            found.append(Violation("simulated", "evidence comes from a simulated platform"))
        return found + self._platform(result)

    def verdict(self, result: DcapResult | IasResult) -> PolicyVerdict:
        return PolicyVerdict(tuple(self.check(result)), self.policy_id)

    def apply(self, result: DcapResult | IasResult) -> DcapResult | IasResult:
        """``result`` carrying this policy's verdict."""
        return dataclasses.replace(result, policy=self.verdict(result))

    def check_enclave(self, body: ReportBody) -> list[Violation]:
        """The enclave-identity rules alone: a peer in local attestation has no platform or collateral to judge."""
        return self._sgx(body)

    def _sgx(self, body: ReportBody) -> list[Violation]:
        found: list[Violation] = []
        if not self.mr_enclaves and not self.mr_signers:
            found.append(Violation("identity", "policy allows no MRENCLAVE and no MRSIGNER"))
        if self.mr_enclaves and body.mr_enclave not in self.mr_enclaves:
            found.append(Violation("mr_enclave", f"{body.mr_enclave.hex()} is not allowed"))
        if self.mr_signers and body.mr_signer not in self.mr_signers:
            found.append(Violation("mr_signer", f"{body.mr_signer.hex()} is not allowed"))
        if self.isv_prod_id is not None and body.isv_prod_id != self.isv_prod_id:
            found.append(Violation("isv_prod_id", f"{body.isv_prod_id} is not the required {self.isv_prod_id}"))
        if body.isv_svn < self.min_isv_svn:
            found.append(Violation("isv_svn", f"{body.isv_svn} is below the minimum {self.min_isv_svn}"))
        for name, wanted in (("isv_ext_prod_id", self.isv_ext_prod_id), ("isv_family_id", self.isv_family_id),
                             ("config_id", self.config_id)):
            have: bytes = getattr(body, name)
            if wanted is not None and have != wanted:
                found.append(Violation(name, f"{have.hex()} is not the required {wanted.hex()}"))
        if body.config_svn < self.min_config_svn:
            found.append(Violation("config_svn", f"{body.config_svn} is below the minimum {self.min_config_svn}"))
        if body.attributes.debug and not self.allow_debug:
            found.append(Violation("debug", "enclave runs in debug mode, which policy does not allow"))
        return found

    def _tdx(self, td: TdReport) -> list[Violation]:
        if self.tdx is None:
            return [Violation("identity", "policy has no [tdx] rules: it accepts no TD")]
        return self.tdx.violations(td, self.allow_debug)

    def _platform(self, result: Judged) -> list[Violation]:
        at = result.verified_at
        found = self._status(result.status, result.tcb_date, at)
        rejected = [a for a in result.advisory_ids if a in self.rejected_advisories]
        if rejected:
            found.append(Violation("advisories", "rejected: " + ", ".join(rejected), platform=True))
        if ANY_ADVISORY not in self.accepted_advisories:
            unaccepted = [a for a in result.advisory_ids if a not in self.accepted_advisories and a not in rejected]
            if unaccepted:
                found.append(Violation("advisories", "not accepted: " + ", ".join(unaccepted), platform=True))
        return found + self._collateral(result, at) + self._ias_report(result, at)

    def _status(self, status: str, tcb_date: datetime | None, at: datetime | None) -> list[Violation]:
        refused = [Violation("status", f"{status} is not accepted", platform=status in PLATFORM_FIXABLE_STATUSES)]
        grace = self.platform_grace_period
        if status not in GRACE_STATUSES or grace is None:
            return [] if status in self.accepted_statuses else refused
        # As Intel's appraisal: the grace period bounds an OutOfDate platform even where the status is listed.
        if tcb_date is None or at is None:
            return refused
        try:
            ends = tcb_date + grace
        except OverflowError:  # a tcbDate near year 9999: the grace never ends
            ends = datetime.max.replace(tzinfo=timezone.utc)
        if at > ends:
            return [Violation("status", f"{status} is not accepted (grace period ended {ends.isoformat()})", platform=True)]
        return [] if {status, GRACE_STATUSES[status]} & self.accepted_statuses else refused

    def _ias_report(self, result: Judged, at: datetime | None) -> list[Violation]:
        """The service provider checks these when it fetches the report (Evidence); results carry what it needs."""
        if not isinstance(result, IasResult):
            return []
        found: list[Violation] = []
        if result.status in ADVISORY_STATUSES and not result.advisory_ids:
            found.append(Violation("advisories", f"{result.status} names no advisory (with IAS API v3 they travel in "
                                   "unsigned headers, which can be lost): its advisories cannot be judged"))
        if self.max_report_age is not None and at is not None and at - result.collateral_issued > self.max_report_age:
            found.append(Violation("report_age", f"IAS report of {result.collateral_issued.isoformat()} is older than "
                                   f"{self.max_report_age} at {at.isoformat()}"))
        return found

    def _collateral(self, result: Judged, at: datetime | None) -> list[Violation]:
        found: list[Violation] = []
        if self.max_collateral_age is not None:
            issued = result.collateral_issued
            if issued is None or at is None:
                found.append(Violation("collateral_age", "the evidence does not say when its collateral was issued"))
            elif at - issued > self.max_collateral_age:
                found.append(Violation("collateral_age", f"collateral issued {issued.isoformat()} is older than "
                                       f"{self.max_collateral_age} at {at.isoformat()}", platform=True))
        if self.min_tcb_evaluation_data_number is not None:
            number = result.tcb_evaluation_data_number
            if number is None:
                found.append(Violation("tcb_evaluation_data_number", "the evidence carries no TCB evaluation data "
                                                                     "number"))
            elif number < self.min_tcb_evaluation_data_number:
                found.append(Violation("tcb_evaluation_data_number", f"{number} is below the minimum "
                                       f"{self.min_tcb_evaluation_data_number}", platform=True))
        return found
