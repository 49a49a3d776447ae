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
from sgxra.errors import MalformedMessage, PolicyViolation
from sgxra.ias.mock_pki import MockIasPki
from sgxra.ratls.der import load_certificate
from sgxra.ratls.evidence import DICE_OID, GRAMINE_LEGACY_OID, Format, NotAttested, extract
from sgxra.ratls.sim import certificate, dice_claims, sim_epid_certificate, spki_der, tagged_evidence
from sgxra.ratls.verify import KeyNotBound, verify_certificate
from sgxra.sim.enclave import EnclaveIdentity
from sgxra.validate.policy import Policy
from sgxra.wire.collateral import TcbStatus


def _verify_sgx(der: bytes, policy: Policy | None = SGX_POLICY):  # type: ignore[no-untyped-def]
    return verify_certificate(der, at=NOW, policy=policy, collateral=SGX_COLLATERAL, root=PKI.root)


@pytest.mark.parametrize(("fmt", "expected", "unused"), [
    ("dice", Format.DICE, ()),
    ("gramine-legacy", Format.GRAMINE_LEGACY, ()),
    ("both", Format.DICE, (GRAMINE_LEGACY_OID,)),
])
def test_sgx_round_trip(fmt: str, expected: Format, unused: tuple[str, ...]) -> None:
    der, _ = SGX.certificate(fmt)
    result = _verify_sgx(der)
    assert result.format is expected
    assert result.evidence.unused == unused
    assert result.binding.bound
    assert result.binding.hashed == ("claims" if expected is Format.DICE else "spki")
    assert result.status == TcbStatus.UpToDate.value
    assert result.simulated and result.judged is not None and result.judged.simulated


@pytest.mark.parametrize("fmt", ["dice", "both"])
def test_tdx_round_trip(fmt: str) -> None:
    der, _ = TDX.certificate(fmt)
    result = verify_certificate(der, at=NOW, policy=TDX_POLICY, collateral=TDX_COLLATERAL, root=PKI.root)
    assert result.format is Format.DICE
    assert (result.binding.algorithm, result.binding.pubkey_hash_algorithm) == ("sha384", "sha384")
    assert result.status == TcbStatus.UpToDate.value


def test_collateral_from_a_source_gets_the_quotes_key() -> None:
    asked = []

    def source(key):  # type: ignore[no-untyped-def]
        asked.append(key)
        return TDX_COLLATERAL

    der, _ = TDX.certificate("dice")
    verify_certificate(der, at=NOW, policy=TDX_POLICY, collateral=source, root=PKI.root)
    assert [(k.tee, k.ca) for k in asked] == [("TDX", "processor")]


def test_epid_ias_report_form() -> None:
    ias = MockIasPki.generate(NOW)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der, _ = sim_epid_certificate(ias, NOW, key=key)
    result = verify_certificate(der, at=NOW, policy=SGX_POLICY, ias_root=ias.root)
    assert (result.format, result.binding.hashed, result.status) == (Format.SGX_RA_TLS_EPID, "rsa-public-key", "OK")
    with pytest.raises(Exception, match="root|chain|issued"):  # Intel's pinned root did not sign it
        verify_certificate(der, at=NOW, policy=SGX_POLICY)
    other, _ = sim_epid_certificate(ias, NOW, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    moved = certificate(key, [(e.oid, e.value) for e in load_certificate(other).extensions if e.oid != "2.5.29.19"])
    with pytest.raises(KeyNotBound):
        verify_certificate(moved, at=NOW, policy=SGX_POLICY, ias_root=ias.root)


def test_policy_refuses_other_enclave_and_wrong_tee_policy() -> None:
    der, _ = SGX.certificate("dice")
    with pytest.raises(PolicyViolation, match="mr_enclave"):
        _verify_sgx(der, Policy(mr_enclaves=frozenset({bytes(32)}), allow_simulated=True))
    with pytest.raises(PolicyViolation, match="simulated"):
        _verify_sgx(der, Policy(mr_enclaves=SGX_POLICY.mr_enclaves))
    with pytest.raises(PolicyViolation, match="TDX policy"):
        verify_certificate(TDX.certificate("dice")[0], at=NOW, policy=SGX_POLICY, collateral=TDX_COLLATERAL,
                           root=PKI.root)


def test_policy_applies_gramine_attribute_rules() -> None:
    from sgxra.ratls.sim import SimRaTlsAttester
    from sgxra.wire.report_body import Attributes

    class Provisioning(EnclaveIdentity):
        def report_body(self, report_data: bytes):  # type: ignore[no-untyped-def]
            body = super().report_body(report_data)
            import dataclasses
            return dataclasses.replace(body, attributes=Attributes(body.attributes.flags | 0x10, body.attributes.xfrm))

    attester = SimRaTlsAttester(PKI, quoting_enclave=SGX.qe, identity=Provisioning())
    with pytest.raises(PolicyViolation, match="provisioning"):
        _verify_sgx(attester.certificate("dice")[0])


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
    _verify_sgx(certificate(key, [(DICE_OID, tagged_evidence(quote, claims))]))


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
    assert _verify_sgx(der).binding.pubkey_hash_algorithm == {7: "sha384", 8: "sha512"}[hash_id]


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
    assert _verify_sgx(certificate(key, [legacy])).format is Format.GRAMINE_LEGACY  # the legacy one alone is good
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


def test_gramine_epid_era_quote_goes_to_the_epid_verifier() -> None:
    """Gramine before 2024 put an EPID quote under its legacy OID; the verifier sends it to IAS."""
    from sgxra.sim.epid import SimEpidRegistry, SimEpidVerifier, SimPlatform, SimQuotingEnclave
    from sgxra.wire.quote import QuoteSignType

    platform = SimPlatform.from_seed(b"gramine epid")
    registry = SimEpidRegistry()
    registry.register(platform)
    key = ec.generate_private_key(ec.SECP384R1())
    body = EnclaveIdentity().report_body(hashlib.sha256(spki_der(key)).digest() + bytes(32))
    quote = SimQuotingEnclave(platform).get_quote(body, QuoteSignType.UNLINKABLE, bytes(16))
    der = certificate(key, [(GRAMINE_LEGACY_OID, quote)])
    result = verify_certificate(der, at=NOW, policy=SGX_POLICY, epid_verifier=SimEpidVerifier(registry))
    assert (result.format, result.status, result.binding.hashed) == (Format.GRAMINE_LEGACY, "OK", "spki")
    with pytest.raises(Exception, match="EPID verifier"):
        verify_certificate(der, at=NOW, policy=SGX_POLICY)
    with pytest.raises(Exception, match="not registered"):
        verify_certificate(der, at=NOW, policy=SGX_POLICY, epid_verifier=SimEpidVerifier(SimEpidRegistry()))


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
