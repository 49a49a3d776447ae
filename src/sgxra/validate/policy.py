"""The relying party's policy: which genuine enclaves it accepts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sgxra.protocol.evidence import UP_TO_DATE_STATUSES, Evidence, Violation

# Statuses a platform leaves by updating (microcode, configuration, software).
PLATFORM_FIXABLE_STATUSES = frozenset({
    "GROUP_OUT_OF_DATE", "CONFIGURATION_NEEDED", "SW_HARDENING_NEEDED", "CONFIGURATION_AND_SW_HARDENING_NEEDED",
    "OutOfDate", "OutOfDateConfigurationNeeded", "ConfigurationNeeded", "SWHardeningNeeded",
    "ConfigurationAndSWHardeningNeeded",
})


@dataclass(frozen=True)
class Policy:
    """Every rule is checked and every failure reported.

    At least one of ``mr_enclaves`` and ``mr_signers`` must be non-empty:
    a policy that names no enclave accepts none. Simulated evidence is refused
    unless ``allow_simulated`` is set, so it can never pass for real evidence.
    """

    mr_enclaves: frozenset[bytes] = frozenset()
    mr_signers: frozenset[bytes] = frozenset()
    isv_prod_id: int | None = None
    min_isv_svn: int = 0
    allow_debug: bool = False
    accepted_statuses: frozenset[str] = field(default_factory=lambda: UP_TO_DATE_STATUSES)
    accepted_advisories: frozenset[str] = frozenset()
    allow_simulated: bool = False

    def violations(self, evidence: Evidence) -> list[Violation]:
        body = evidence.report_body
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
        if body.attributes.debug and not self.allow_debug:
            found.append(Violation("debug", "enclave runs in debug mode, which policy does not allow"))
        if evidence.simulated and not self.allow_simulated:
            found.append(Violation("simulated", "evidence comes from a simulated platform"))
        if evidence.status not in self.accepted_statuses:
            found.append(Violation(
                "status", f"{evidence.status} is not accepted",
                platform=evidence.status in PLATFORM_FIXABLE_STATUSES,
            ))
        unaccepted = [a for a in evidence.advisory_ids if a not in self.accepted_advisories]
        if unaccepted:
            found.append(Violation("advisories", "not accepted: " + ", ".join(unaccepted), platform=True))
        return found
