"""RA-TLS in simulation: every format round trips; binding attacks are refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from dcap_env import NOW, PKI
from ratls_env import SGX, SGX_COLLATERAL, SGX_POLICY, TDX, TDX_COLLATERAL, TDX_POLICY
from sgxra.errors import MalformedMessage, VerificationError
from sgxra.ias.mock_pki import MockIasPki
from sgxra.pcs.cache import CollateralCache
from sgxra.ratls.der import load_certificate
from sgxra.ratls.evidence import DICE_OID, GRAMINE_LEGACY_OID, Format, NotAttested, extract
from sgxra.ratls.sim import certificate, dice_claims, sim_epid_certificate, spki_der, tagged_evidence
from sgxra.ratls.verify import KeyNotBound, ratls_evidence, verify_certificate
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.validate.policy import Policy, TdxRules
from sgxra.verify.result import DcapResult, IasResult
from sgxra.wire.collateral import TcbStatus


def _verify_sgx(der: bytes, policy: Policy | None = SGX_POLICY):  # type: ignore[no-untyped-def]
    return verify_certificate(der, at=NOW, policy=policy, collateral=SGX_COLLATERAL, root=PKI.root)


def _verify_sgx_with(der: bytes, **trust):  # type: ignore[no-untyped-def]
    return verify_certificate(der, at=NOW, policy=SGX_POLICY, root=PKI.root, **trust)


def _refused_by(result) -> list[str]:  # type: ignore[no-untyped-def]
    """The rules a judged result broke (it must have been judged, and refused)."""
    assert result.policy is not None and not result.accepted
    return [v.rule for v in result.policy.violations]


@pytest.mark.parametrize(("fmt", "expected", "unused"), [
    ("dice", Format.DICE, ()),
    ("gramine-legacy", Format.GRAMINE_LEGACY, ()),
    ("both", Format.DICE, (GRAMINE_LEGACY_OID,)),
])
def test_sgx_round_trip(fmt: str, expected: Format, unused: tuple[str, ...]) -> None:
    der, _ = SGX.certificate(fmt)
    result = _verify_sgx(der)
    assert isinstance(result, DcapResult) and result.tee == "SGX"  # the same result as sgxra.verify's
    evidence = ratls_evidence(result)
    assert evidence.format is expected
    assert evidence.unused == unused
    assert evidence.binding.bound
    assert evidence.binding.hashed == ("claims" if expected is Format.DICE else "spki")
    assert result.status == TcbStatus.UpToDate.value
    assert result.simulated and result.accepted and result.policy is not None
    described = result.to_dict()["ratls"]
    assert (described["format"], described["binding"]["hashed"]) == (expected.value, evidence.binding.hashed)
    assert described["unused_extensions"] == list(unused)


@pytest.mark.parametrize("fmt", ["dice", "both"])
def test_tdx_round_trip(fmt: str) -> None:
    der, _ = TDX.certificate(fmt)
    result = verify_certificate(der, at=NOW, policy=TDX_POLICY, collateral=TDX_COLLATERAL, root=PKI.root)
    binding = ratls_evidence(result).binding
    assert ratls_evidence(result).format is Format.DICE
    assert (binding.algorithm, binding.pubkey_hash_algorithm) == ("sha384", "sha384")
    assert result.status == TcbStatus.UpToDate.value and result.tee == "TDX" and result.accepted


def test_tdx_policy_refuses_another_td_and_an_sgx_policy_refuses_any_td() -> None:
    der, _ = TDX.certificate("dice")
    other = Policy(tdx=TdxRules(mr_td=frozenset({bytes(48)})), allow_simulated=True)
    refused = verify_certificate(der, at=NOW, policy=other, collateral=TDX_COLLATERAL, root=PKI.root)
    assert not refused.accepted and [v.rule for v in refused.policy.violations] == ["tdx.mr_td"]  # type: ignore[union-attr]
    sgx_only = verify_certificate(der, at=NOW, policy=SGX_POLICY, collateral=TDX_COLLATERAL, root=PKI.root)
    assert not sgx_only.accepted and "no [tdx] rules" in str(sgx_only.policy.violations)  # type: ignore[union-attr]


def test_collateral_from_a_fetcher_gets_the_quotes_key() -> None:
    asked = []

    def source(key):  # type: ignore[no-untyped-def]
        asked.append(key)
        return TDX_COLLATERAL

    der, _ = TDX.certificate("dice")
    assert verify_certificate(der, at=NOW, policy=TDX_POLICY, fetcher=source, root=PKI.root).accepted
    assert [(k.tee, k.ca) for k in asked] == [("TDX", "processor")]
    with pytest.raises(VerificationError, match="needs collateral"):
        verify_certificate(der, at=NOW, policy=TDX_POLICY, root=PKI.root)


def test_collateral_from_a_cache_is_fetched_once(tmp_path: Path) -> None:
    asked = []

    def source(key):  # type: ignore[no-untyped-def]
        asked.append(key)
        return SGX_COLLATERAL

    cache = CollateralCache(tmp_path / "cache.sqlite", source)
    for fmt in ("dice", "gramine-legacy"):
        assert _verify_sgx_with(SGX.certificate(fmt)[0], fetcher=cache).accepted
    assert len(asked) == 1


def test_epid_ias_report_form() -> None:
    ias = MockIasPki.generate(NOW)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der, _ = sim_epid_certificate(ias, NOW, key=key)
    result = verify_certificate(der, at=NOW, policy=SGX_POLICY, ias_root=ias.root)
    evidence = ratls_evidence(result)
    assert isinstance(result, IasResult) and result.accepted and result.simulated
    assert (evidence.format, evidence.binding.hashed, result.status) == (Format.SGX_RA_TLS_EPID, "rsa-public-key", "OK")
    assert result.to_dict()["ratls"]["format"] == "sgx-ra-tls-epid"
    with pytest.raises(Exception, match="root|chain|issued"):  # Intel's pinned root did not sign it
        verify_certificate(der, at=NOW, policy=SGX_POLICY)
    other, _ = sim_epid_certificate(ias, NOW, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    moved = certificate(key, [(e.oid, e.value) for e in load_certificate(other).extensions if e.oid != "2.5.29.19"])
    with pytest.raises(KeyNotBound):
        verify_certificate(moved, at=NOW, policy=SGX_POLICY, ias_root=ias.root)
    forged, _ = sim_epid_certificate(ias, NOW, key=key, status="SIGNATURE_INVALID")
    with pytest.raises(VerificationError, match="EPID signature is invalid"):  # not genuine, whatever the policy
        verify_certificate(forged, at=NOW, policy=None, ias_root=ias.root)


def test_policy_refuses_other_enclave_and_simulation() -> None:
    der, _ = SGX.certificate("dice")
    assert _refused_by(_verify_sgx(der, Policy(mr_enclaves=frozenset({bytes(32)}), allow_simulated=True))) == [
        "mr_enclave"]
    assert _refused_by(_verify_sgx(der, Policy(mr_enclaves=SGX_POLICY.mr_enclaves))) == ["simulated"]
    unjudged = _verify_sgx(der, policy=None)
    assert unjudged.policy is None and unjudged.accepted  # genuine and bound; nothing judged it


def test_policy_applies_gramine_attribute_rules() -> None:
    from sgxra.ratls.sim import SimRaTlsAttester
    from sgxra.wire.report_body import Attributes

    class Provisioning(EnclaveIdentity):
        def report_body(self, report_data: bytes):  # type: ignore[no-untyped-def]
            body = super().report_body(report_data)
            import dataclasses
            return dataclasses.replace(body, attributes=Attributes(body.attributes.flags | 0x10, body.attributes.xfrm))

    attester = SimRaTlsAttester(PKI, quoting_enclave=SGX.qe, identity=Provisioning())
    result = _verify_sgx(attester.certificate("dice")[0])
    assert _refused_by(result) == ["attributes"] and "provisioning" in str(result.policy.violations[0])
    assert SGX_POLICY.check(result) == []  # the policy alone has no rule for it: Gramine's rules add it


# --- binding attacks ---------------------------------------------------------------------------------

def test_extension_moved_to_a_certificate_with_another_key() -> None:
    for fmt in ("dice", "gramine-legacy", "both"):
        der, _ = SGX.certificate(fmt)
        extensions = [(e.oid, e.value) for e in load_certificate(der).extensions if e.oid != "2.5.29.19"]
        moved = certificate(ec.generate_private_key(ec.SECP384R1()), extensions)
        assert not extract(load_certificate(moved)).binding.bound
        with pytest.raises(KeyNotBound):
            _verify_sgx(moved, policy=None)


def test_claims_changed() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    claims = dice_claims(spki_der(key))
    quote = SGX.quote(hashlib.sha256(claims).digest())
    changed = dice_claims(spki_der(key), extra={"nonce": b"attacker"})
    der = certificate(key, [(DICE_OID, tagged_evidence(quote, changed))])
    binding = extract(load_certificate(der)).binding
    assert not binding.bound and "does not hold sha256(claims)" in binding.reason
    with pytest.raises(KeyNotBound):
        _verify_sgx(der)
    # the untouched claims verify, so the refusal above is about the change alone
    assert _verify_sgx(certificate(key, [(DICE_OID, tagged_evidence(quote, claims))])).accepted


def test_pubkey_hash_with_unknown_algorithm() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    claims = dice_claims(spki_der(key), hash_id=2)
    der = certificate(key, [(DICE_OID, tagged_evidence(SGX.quote(hashlib.sha256(claims).digest()), claims))])
    binding = extract(load_certificate(der)).binding
    assert not binding.bound and "unknown hash algorithm id 2" in binding.reason
    with pytest.raises(KeyNotBound):
        _verify_sgx(der)


@pytest.mark.parametrize("hash_id", [7, 8])
def test_pubkey_hash_sha384_and_sha512_accepted(hash_id: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    claims = dice_claims(spki_der(key), hash_id=hash_id)
    der = certificate(key, [(DICE_OID, tagged_evidence(SGX.quote(hashlib.sha256(claims).digest()), claims))])
    assert ratls_evidence(_verify_sgx(der)).binding.pubkey_hash_algorithm == {7: "sha384", 8: "sha512"}[hash_id]


def test_report_data_with_non_zero_trailing_bytes() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    claims = dice_claims(spki_der(key))
    dice = certificate(key, [(DICE_OID, tagged_evidence(SGX.quote(hashlib.sha256(claims).digest() + b"\x01"), claims))])
    legacy = certificate(key, [(GRAMINE_LEGACY_OID, SGX.quote(hashlib.sha256(spki_der(key)).digest() + b"x" * 32))])
    for der in (dice, legacy):
        binding = extract(load_certificate(der)).binding
        assert not binding.bound and "not zero" in binding.reason
        with pytest.raises(KeyNotBound):
            _verify_sgx(der)


def test_both_extensions_with_the_dice_one_bad_is_refused_without_fallback() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    legacy = SGX.gramine_legacy_extension(key)
    other = ec.generate_private_key(ec.SECP384R1())
    bad_dice = SGX.dice_extension(other)  # good evidence, for another key
    der = certificate(key, [legacy, bad_dice])
    assert ratls_evidence(_verify_sgx(certificate(key, [legacy]))).format is Format.GRAMINE_LEGACY  # alone: good
    with pytest.raises(KeyNotBound, match="tcg-dice"):
        _verify_sgx(der)
    garbled = certificate(key, [legacy, (DICE_OID, b"\xa0")])
    with pytest.raises(MalformedMessage):
        _verify_sgx(garbled)


@pytest.mark.parametrize("value", [
    cbor2.dumps([b"q", b"c"]),  # untagged
    cbor2.dumps(cbor2.CBORTag(60001, [b"q", b"c"])),  # another tag
    cbor2.dumps(cbor2.CBORTag(60000, [b"q"])),  # one element
    cbor2.dumps(cbor2.CBORTag(60000, [b"q", b"c"])) + b"\x00",  # trailing bytes
    b"\xff\xff",
])
def test_malformed_dice_evidence(value: bytes) -> None:
    der = certificate(ec.generate_private_key(ec.SECP256R1()), [(DICE_OID, value)])
    with pytest.raises(MalformedMessage):
        extract(load_certificate(der))


def test_no_evidence() -> None:
    der = certificate(ec.generate_private_key(ec.SECP256R1()), [])
    with pytest.raises(NotAttested):
        _verify_sgx(der)


def _epid_era_certificate(seed: str) -> bytes:
    """Gramine before 2024: an EPID quote under its legacy OID, binding the SPKI."""
    from ias_env import GID, SPID
    from sgxra.sim.epid import SimPlatform, SimQuotingEnclave
    from sgxra.wire.quote import QuoteSignType

    key = ec.generate_private_key(ec.SECP384R1())
    body = EnclaveIdentity().report_body(hashlib.sha256(spki_der(key)).digest() + bytes(32))
    quote = SimQuotingEnclave(SimPlatform.from_seed(seed.encode(), GID)).get_quote(body, QuoteSignType.UNLINKABLE, SPID)
    return certificate(key, [(GRAMINE_LEGACY_OID, quote)])


def test_gramine_epid_era_quote_goes_to_ias() -> None:
    """The verifier sends the EPID quote to IAS (here the mock, on loopback) and verifies its signed report."""
    from ias_env import GID, KEY, client_for, now, running_mock
    from ias_env import PKI as IAS_PKI
    from sgxra.ias.mock_config import MockIasConfig, MockPlatform

    der = _epid_era_certificate("gramine epid")
    platforms = (MockPlatform("gramine epid", GID), MockPlatform("v3 advisories", GID, advisories=("INTEL-SA-00334",)))
    with running_mock(MockIasConfig(subscription_keys=(KEY,), platforms=platforms)) as (_, server):
        with client_for(server) as ias:
            result = verify_certificate(der, at=now(), policy=SGX_POLICY, ias=ias, ias_root=IAS_PKI.root)
            with pytest.raises(Exception, match="root|chain|issued"):  # Intel's pinned root did not sign the mock's
                verify_certificate(der, at=now(), policy=SGX_POLICY, ias=ias)
        with client_for(server, api_version=3) as v3:  # advisories only in unsigned headers: refused
            with pytest.raises(VerificationError, match="outside the signed report: INTEL-SA-00334"):
                verify_certificate(_epid_era_certificate("v3 advisories"), at=now(), policy=SGX_POLICY, ias=v3,
                                   ias_root=IAS_PKI.root)
    evidence = ratls_evidence(result)
    assert isinstance(result, IasResult) and result.accepted and result.simulated
    assert (evidence.format, result.status, evidence.binding.hashed) == (Format.GRAMINE_LEGACY, "OK", "spki")
    with pytest.raises(VerificationError, match="no IAS client"):
        verify_certificate(der, at=NOW, policy=SGX_POLICY)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_fail_as_malformed(data: bytes) -> None:
    try:
        extract(load_certificate(data))
    except (MalformedMessage, NotAttested):
        pass


_REAL = load_certificate((Path(__file__).parent / "data/ratls/rats-tls-cert.pem").read_bytes()).der


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_REAL) - 1), st.integers(1, 255))
def test_flipped_bytes_of_a_real_certificate_never_crash(index: int, xor: int) -> None:
    data = _REAL[:index] + bytes([_REAL[index] ^ xor]) + _REAL[index + 1 :]
    try:
        extract(load_certificate(data))
    except (MalformedMessage, NotAttested):
        pass
