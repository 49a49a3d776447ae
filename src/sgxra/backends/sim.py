"""The simulated quote source: a software SGX enclave quoted by the simulated ECDSA QE, or a simulated TD.

Its quotes chain to the simulated Intel PKI, never to Intel's root: verifiers say ``simulated``.
"""

from __future__ import annotations

from collections.abc import Callable

from sgxra.backends.base import check_binding, check_report_data
from sgxra.sim.dcap_pki import SimIntelPki
from sgxra.sim.dcap_qe import SimEcdsaQuotingEnclave
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.sim.tdx_qe import SimTdxQuotingEnclave, sim_td_report
from sgxra.wire.quote import QuoteSignType


class SimQuoteSource:
    """Version-3 SGX ECDSA quotes of ``identity`` (or, with ``tdx``, version-4 TDX quotes of a simulated TD)."""

    name = "sim"

    def __init__(self, pki: SimIntelPki, *, tdx: bool = False, identity: EnclaveIdentity | None = None) -> None:
        self.tdx = tdx
        self.identity = identity = identity or EnclaveIdentity()
        if tdx:
            td_qe = SimTdxQuotingEnclave(pki)
            self._make: Callable[[bytes], bytes] = lambda data: td_qe.get_quote(sim_td_report(data), version=4)
        else:
            sgx_qe = SimEcdsaQuotingEnclave(pki)
            self._make = lambda data: sgx_qe.get_quote(identity.report_body(data), QuoteSignType.UNLINKABLE, bytes(16))

    def quote(self, report_data: bytes) -> bytes:
        return check_binding(self.name, self._make(check_report_data(report_data)), report_data)

    def epid_group(self) -> bytes:
        return bytes(4)
