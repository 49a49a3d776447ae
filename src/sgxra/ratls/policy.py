"""Gramine's enclave attribute rules: what RA-TLS judges beyond :class:`~sgxra.validate.policy.Policy`.

Gramine's verifier (``verify_quote_body_enclave_attributes``) refuses an SGX
enclave that is not an initialized 64-bit enclave, or that may use the
provisioning or launch-token key. The policy file has no key for attribute
flags (only ``allow_debug``), so :func:`sgxra.ratls.verify_certificate` adds
these violations to the policy's verdict whenever it judges an SGX enclave.
"""

from __future__ import annotations

from sgxra.protocol.evidence import Violation
from sgxra.wire.report_body import AttributeFlags, ReportBody


def enclave_attribute_violations(body: ReportBody) -> list[Violation]:
    flags = body.attributes.flags
    found = []
    if not flags & AttributeFlags.INITTED or not flags & AttributeFlags.MODE64BIT:
        found.append(Violation("attributes", "enclave is not an initialized 64-bit enclave"))
    if flags & (AttributeFlags.PROVISION_KEY | AttributeFlags.EINITTOKEN_KEY):
        found.append(Violation("attributes", "enclave may use the provisioning or launch-token key"))
    return found
