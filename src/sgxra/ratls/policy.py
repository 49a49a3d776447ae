"""What RA-TLS judges beyond the relying party's :class:`~sgxra.validate.policy.Policy`.

SEAM (issue 10): the unified result type will bring one policy for SGX and TDX.
Until then, TD quotes are judged by the small :class:`TdxPolicy` below, and SGX
quotes by ``Policy`` plus Gramine's attribute rules (``verify_quote_body_enclave_attributes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sgxra.protocol.evidence import UP_TO_DATE_STATUSES, Violation
from sgxra.validate.policy import PLATFORM_FIXABLE_STATUSES
from sgxra.wire.report_body import AttributeFlags, ReportBody
from sgxra.wire.td_report import TdReport

TD_DEBUG = 0x01  # TD_ATTRIBUTES bit 0: the TD runs in debug mode


def enclave_attribute_violations(body: ReportBody) -> list[Violation]:
    """Gramine's rules: initialized, 64-bit, and neither provisioning nor launch-token key access."""
    flags = body.attributes.flags
    found = []
    if not flags & AttributeFlags.INITTED or not flags & AttributeFlags.MODE64BIT:
        found.append(Violation("attributes", "enclave is not an initialized 64-bit enclave"))
    if flags & (AttributeFlags.PROVISION_KEY | AttributeFlags.EINITTOKEN_KEY):
        found.append(Violation("attributes", "enclave may use the provisioning or launch-token key"))
    return found


@dataclass(frozen=True)
class TdxPolicy:
    """Which TDs are accepted: MRTD, debug, TCB status and advisories, simulation."""

    mr_tds: frozenset[bytes] = frozenset()
    allow_debug: bool = False
    accepted_statuses: frozenset[str] = field(default_factory=lambda: UP_TO_DATE_STATUSES)
    accepted_advisories: frozenset[str] = frozenset()
    allow_simulated: bool = False

    def violations(self, td: TdReport, status: str, advisory_ids: tuple[str, ...], *,
                   simulated: bool) -> list[Violation]:
        found = []
        if not self.mr_tds:
            found.append(Violation("identity", "policy allows no MRTD"))
        elif td.mr_td not in self.mr_tds:
            found.append(Violation("mr_td", f"{td.mr_td.hex()} is not allowed"))
        if td.td_attributes[0] & TD_DEBUG and not self.allow_debug:
            found.append(Violation("debug", "TD runs in debug mode, which policy does not allow"))
        if simulated and not self.allow_simulated:
            found.append(Violation("simulated", "evidence comes from a simulated platform"))
        if status not in self.accepted_statuses:
            found.append(Violation("status", f"{status} is not accepted", platform=status in PLATFORM_FIXABLE_STATUSES))
        unaccepted = [a for a in advisory_ids if a not in self.accepted_advisories]
        if unaccepted:
            found.append(Violation("advisories", "not accepted: " + ", ".join(unaccepted), platform=True))
        return found
