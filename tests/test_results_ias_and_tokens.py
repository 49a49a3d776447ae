"""IAS reports through the one call; signed results (JWT) made, checked and refused when changed."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import sgxra
from sgxra.cli.main import main
from sgxra.errors import EvidenceMismatch
from sgxra.validate import Policy
from sgxra.validate.policy_file import parse_policy
from sgxra.verify.result import IasResult
from sgxra.verify.token import TokenInvalid, key_id, verify_token

AT_IAS = datetime(2020, 5, 11, 10, 0, tzinfo=timezone.utc)  # an hour after the real v4 report was made


@pytest.fixture(scope="module")
def bundle(vectors: Path) -> bytes:
    ias = vectors / "ias"
    return json.dumps({
        "report": (ias / "avr_v4_sw_hardening_needed.json").read_text(),
        "signature": (ias / "avr_v4_sw_hardening_needed.sig.b64").read_text().strip(),
        "certificates": (ias / "signing_chain_urlencoded.txt").read_text().strip(),
    }).encode()


@pytest.fixture(scope="module")
def ias_result(bundle: bytes) -> IasResult:
    policy = parse_policy({"mr_enclaves": ["00" * 32], "accepted_statuses": ["OK", "SW_HARDENING_NEEDED"],
                           "accepted_advisories": ["INTEL-SA-00334"], "min_tcb_evaluation_data_number": 1,
                           "policy_id": "ias-test"}).policy
    result = sgxra.verify(bundle, at=AT_IAS, policy=policy)
    assert isinstance(result, IasResult)
    return result


def test_real_ias_report_through_the_one_call(ias_result: IasResult) -> None:
    plain = json.loads(ias_result.to_json())
    assert plain["kind"] == "ias" and plain["status"] == "SW_HARDENING_NEEDED"
    assert plain["advisory_ids"] == ["INTEL-SA-00334"] and plain["simulated"] is False
    assert plain["timestamp"] == "2020-05-11T09:21:15.454051Z" and len(plain["body"]["mr_enclave"]) == 64
    rules = [v["rule"] for v in plain["policy"]["violations"]]
    # the enclave is a debug one; a v4 report carries no TCB evaluation data number: that rule fails closed;
    # an hour old, the report is past the policy file's default report_max_age (600 s)
    assert rules == ["mr_enclave", "debug", "tcb_evaluation_data_number", "report_age"]


@pytest.mark.parametrize(("after", "stale"), [(timedelta(seconds=600), False), (timedelta(seconds=601), True)])
def test_report_age_is_a_policy_rule(ias_result: IasResult, after: timedelta, stale: bool) -> None:
    """Every caller of Policy.check (sgxra verify, ratls verify, secret-prov serve) bounds an IAS report's age."""
    policy = parse_policy({"mr_enclaves": ["00" * 32], "report_max_age": 600}).policy
    at = ias_result.report.timestamp + after
    judged = dataclasses.replace(ias_result, verified_at=at)
    assert ("report_age" in [v.rule for v in policy.check(judged)]) is stale


def test_a_hardening_status_without_advisories_is_refused(ias_result: IasResult) -> None:
    """API v3 sends advisories in unsigned headers: a SW_HARDENING_NEEDED report naming none cannot be judged."""
    stripped = dataclasses.replace(ias_result, report=dataclasses.replace(ias_result.report, advisory_ids=()))
    policy = Policy(mr_enclaves=frozenset({bytes(32)}), accepted_statuses=frozenset({"SW_HARDENING_NEEDED"}),
                    accepted_advisories=frozenset({"*"}))
    refused = [v for v in policy.check(stripped) if v.rule == "advisories"]
    assert refused and "names no advisory" in refused[0].message
    assert not [v for v in policy.check(ias_result) if v.rule == "advisories"]


def test_ias_bundle_requiring_another_nonce_is_refused(bundle: bytes) -> None:
    with pytest.raises(EvidenceMismatch):
        sgxra.verify(json.dumps(json.loads(bundle) | {"nonce": "not-the-nonce"}).encode(), at=AT_IAS)


def test_ias_bundle_through_the_cli(bundle: bytes, tmp_path: Path) -> None:
    evidence = tmp_path / "report.json"
    evidence.write_bytes(bundle)
    run = CliRunner().invoke(main, ["verify", str(evidence), "--at", AT_IAS.isoformat(), "--json"])
    assert run.exit_code == 0 and json.loads(run.output)["status"] == "SW_HARDENING_NEEDED"


def _key(curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve)


@pytest.mark.parametrize(("curve", "alg"), [(ec.SECP256R1(), "ES256"), (ec.SECP384R1(), "ES384")])
def test_token_round_trip(ias_result: IasResult, curve: ec.EllipticCurve, alg: str) -> None:
    key = _key(curve)
    token = ias_result.to_token(key, nonce="n-1", at=AT_IAS)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg and header["kid"] == key_id(key.public_key())
    claims = verify_token(token, key.public_key(), at=AT_IAS + timedelta(minutes=4), nonce="n-1")
    assert claims["attester_type"] == "SGX" and claims["attester_tcb_status"] == "SW_HARDENING_NEEDED"
    assert claims["attester_advisory_ids"] == ["INTEL-SA-00334"] and claims["verifier_nonce"] == {"val": "n-1"}
    assert claims["sgx_mrenclave"] == ias_result.body.mr_enclave.hex() and claims["sgx_is_debuggable"] is True
    assert claims["policy_ids_unmatched"] == [{"id": "ias-test", "version": "1"}]
    assert claims["exp"] - claims["iat"] == 300


def _resign_header_and_changed_payload(token: str, claim: str, value: object) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[claim] = value
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{changed}.{signature}"


def test_a_token_with_a_changed_claim_is_refused(ias_result: IasResult) -> None:
    key = _key(ec.SECP256R1())
    token = ias_result.to_token(key, at=AT_IAS)
    changed = _resign_header_and_changed_payload(token, "attester_tcb_status", "UpToDate")
    with pytest.raises(TokenInvalid, match="does not verify"):
        verify_token(changed, key.public_key(), at=AT_IAS)


def test_a_token_is_refused_under_another_key_after_expiry_and_without_its_nonce(ias_result: IasResult) -> None:
    key = _key(ec.SECP256R1())
    token = ias_result.to_token(key, nonce="n-2", at=AT_IAS)
    with pytest.raises(TokenInvalid):
        verify_token(token, _key(ec.SECP256R1()).public_key(), at=AT_IAS)
    with pytest.raises(TokenInvalid, match="expired"):
        verify_token(token, key.public_key(), at=AT_IAS + timedelta(minutes=5))
    with pytest.raises(TokenInvalid, match="not valid yet"):
        verify_token(token, key.public_key(), at=AT_IAS - timedelta(seconds=1))
    with pytest.raises(TokenInvalid, match="nonce"):
        verify_token(token, key.public_key(), at=AT_IAS, nonce="n-3")
    # an unsigned token ("alg": "none") with the same claims is refused
    unsigned = jwt.encode(jwt.decode(token, options={"verify_signature": False}), key=None, algorithm="none")
    with pytest.raises(TokenInvalid):
        verify_token(unsigned, key.public_key(), at=AT_IAS)


def test_cli_signs_and_checks_a_token(bundle: bytes, tmp_path: Path) -> None:
    key = _key(ec.SECP384R1())
    private, public = tmp_path / "key.pem", tmp_path / "pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    evidence = tmp_path / "report.json"
    evidence.write_bytes(bundle)
    run = CliRunner().invoke(main, ["verify", str(evidence), "--at", AT_IAS.isoformat(), "--json",
                                    "--token-key", str(private), "--nonce", "cli"])
    assert run.exit_code == 0, run.output
    token = json.loads(run.output)["token"]
    run = CliRunner().invoke(main, ["token", "verify", token, "--key", str(public), "--at", AT_IAS.isoformat(),
                                    "--nonce", "cli"])
    assert run.exit_code == 0 and json.loads(run.output)["attester_tcb_status"] == "SW_HARDENING_NEEDED"
    changed = _resign_header_and_changed_payload(token, "sgx_mrenclave", "00" * 32)
    run = CliRunner().invoke(main, ["token", "verify", changed, "--key", str(public), "--at", AT_IAS.isoformat()])
    assert run.exit_code == 7 and "TokenInvalid" in run.output


def test_a_report_saying_the_quote_is_forged_is_not_genuine_evidence() -> None:
    from sgxra.api import IasEvidence
    from sgxra.errors import VerificationError
    from sgxra.ias.mock_pki import MockIasPki
    from sgxra.ratls import extract, load_certificate
    from sgxra.ratls.sim import sim_epid_certificate

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ias = MockIasPki.generate(at)
    der, _ = sim_epid_certificate(ias, at, status="SIGNATURE_INVALID")
    embedded = extract(load_certificate(der)).ias_report
    assert embedded is not None
    evidence = IasEvidence(embedded.body, embedded.signature, embedded.chain)
    with pytest.raises(VerificationError, match="EPID signature is invalid"):  # with no policy too: never accepted
        sgxra.verify(evidence, at=at, root=ias.root)
