"""Simulated RA-TLS attesters, collateral and policies shared by the RA-TLS tests."""

from __future__ import annotations

from dcap_env import NOW, PKI, QE, spec
from sgxra.ratls.sim import SimRaTlsAttester
from sgxra.ratls.verify import RaTlsVerifier
from sgxra.sim.enclave import DEFAULT_MR_ENCLAVE
from sgxra.sim.tdx_qe import sim_td_report
from sgxra.validate.policy import Policy, TdxRules
from tdx_env import TDX_QE, tdx_spec

SGX = SimRaTlsAttester(PKI, quoting_enclave=QE)
TDX = SimRaTlsAttester(PKI, tdx=True, quoting_enclave=TDX_QE)
SGX_COLLATERAL = PKI.collateral(spec(issued=NOW))
TDX_COLLATERAL = PKI.collateral(tdx_spec())
SGX_POLICY = Policy(mr_enclaves=frozenset({DEFAULT_MR_ENCLAVE}), allow_simulated=True)
TDX_POLICY = Policy(tdx=TdxRules(mr_td=frozenset({sim_td_report().mr_td})), allow_simulated=True)


def sgx_verifier(policy: Policy = SGX_POLICY) -> RaTlsVerifier:
    return RaTlsVerifier(policy=policy, clock=lambda: NOW, collateral=SGX_COLLATERAL, root=PKI.root)
