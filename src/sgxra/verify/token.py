"""Signed results: a JWT (ES256 or ES384, PyJWT) whose claims use Intel Trust Authority's names.

The claims follow Trust Authority's flat (v1) token: ``attester_type``,
``attester_tcb_status``, ``attester_tcb_date``, ``attester_advisory_ids``, the
``sgx_*`` or ``tdx_*`` measurements, ``verifier_nonce`` and
``policy_ids_matched``; sgxra adds ``sgxra_simulated`` (true under any root but
Intel's), ``sgxra_evidence`` (dcap, ias or the service provider's kind),
``sgxra_policy_violations`` and, for evidence that came in an envelope (an RA-TLS
certificate), ``sgxra_<envelope name>``. ``kid`` is the key's RFC 7638 thumbprint. Time is a
parameter: ``iat``/``exp`` are checked here against ``at``, not against a clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from sgxra.errors import SignatureInvalid
from sgxra.wire.report_body import ReportBody
from sgxra.wire.td_report import TdReport

if TYPE_CHECKING:
    from sgxra.protocol.evidence import Evidence
    from sgxra.verify.result import DcapResult, IasResult

ISSUER = "sgxra"
TOKEN_VERSION = "1.0.0"
MAX_TOKEN = 64 * 1024
_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384"}


class TokenInvalid(SignatureInvalid):
    """A token that does not verify, is not yet or no longer valid, or was not made for this key or nonce."""


def algorithm(key: ec.EllipticCurvePublicKey) -> str:
    alg = _ALGORITHMS.get(key.curve.name)
    if alg is None:
        raise TokenInvalid(f"tokens are signed with P-256 or P-384 keys, not {key.curve.name}")
    return alg


def key_id(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public key."""
    size = (key.curve.key_size + 7) // 8
    numbers = key.public_numbers()
    members = {"crv": "P-256" if size == 32 else "P-384", "kty": "EC",
               "x": _b64(numbers.x.to_bytes(size, "big")), "y": _b64(numbers.y.to_bytes(size, "big"))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def body_claims(body: ReportBody | TdReport) -> dict[str, Any]:
    """The evidence's measurements under Trust Authority's names."""
    if isinstance(body, ReportBody):
        return {
            "sgx_mrenclave": body.mr_enclave.hex(), "sgx_mrsigner": body.mr_signer.hex(),
            "sgx_isvprodid": body.isv_prod_id, "sgx_isvsvn": body.isv_svn, "sgx_is_debuggable": body.attributes.debug,
            "sgx_report_data": body.report_data.hex(), "sgx_config_id": body.config_id.hex(),
            "sgx_config_svn": body.config_svn, "sgx_isv_ext_prod_id": body.isv_ext_prod_id.hex(),
            "sgx_isv_family_id": body.isv_family_id.hex(),
        }
    claims = {
        "tdx_mrtd": body.mr_td.hex(), "tdx_mrseam": body.mr_seam.hex(), "tdx_mrsignerseam": body.mr_signer_seam.hex(),
        "tdx_seam_attributes": body.seam_attributes.hex(), "tdx_td_attributes": body.td_attributes.hex(),
        "tdx_xfam": body.xfam.hex(), "tdx_mrconfigid": body.mr_config_id.hex(), "tdx_mrowner": body.mr_owner.hex(),
        "tdx_mrownerconfig": body.mr_owner_config.hex(), "tdx_report_data": body.report_data.hex(),
        "tdx_tee_tcb_svn": body.tee_tcb_svn.hex(), "tdx_is_debuggable": bool(body.td_attributes[0] & 1),
    }
    claims.update({f"tdx_rtmr{i}": getattr(body, f"rtmr{i}").hex() for i in range(4)})
    return claims


def result_claims(result: DcapResult | IasResult) -> dict[str, Any]:
    """The claims of one verification result (without the JWT's own iat/exp)."""
    from sgxra.verify.result import iso  # loaded: ``result`` is one of its results

    claims: dict[str, Any] = {
        "attester_type": result.tee, "attester_tcb_status": result.status,
        "attester_advisory_ids": list(result.advisory_ids), "sgxra_simulated": result.simulated,
        "sgxra_evidence": result.kind,
    }
    if result.tcb_date is not None:
        claims["attester_tcb_date"] = iso(result.tcb_date)
    if result.tcb_evaluation_data_number is not None:
        claims["sgxra_tcb_evaluation_data_number"] = result.tcb_evaluation_data_number
    if result.policy is not None:
        matched = [{"id": result.policy.policy_id or "policy", "version": "1"}]
        claims["policy_ids_matched" if result.policy.accepted else "policy_ids_unmatched"] = matched
        claims["sgxra_policy_violations"] = [str(v) for v in result.policy.violations]
    if result.envelope is not None:
        claims[f"sgxra_{result.envelope.name}"] = result.envelope.to_dict()
    return claims | body_claims(result.body)


def evidence_claims(evidence: Evidence) -> dict[str, Any]:
    """The claims of evidence the service provider verified and its policy accepted."""
    return {"attester_type": "SGX", "attester_tcb_status": evidence.status,
            "attester_advisory_ids": list(evidence.advisory_ids), "sgxra_simulated": evidence.simulated,
            "sgxra_evidence": evidence.kind, "policy_ids_matched": [{"id": "sp-policy", "version": "1"}],
            } | body_claims(evidence.report_body)


def sign_claims(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, *, nonce: str | None = None,
                lifetime: timedelta = timedelta(minutes=5), at: datetime | None = None) -> str:
    """Sign ``claims`` with ``iss``, ``iat``, ``exp``, ``jti``, ``ver`` and an optional ``verifier_nonce``."""
    if lifetime <= timedelta(0):
        raise ValueError("a token's lifetime must be positive")
    public = key.public_key()
    now = at or datetime.now(timezone.utc)
    issued = int(now.timestamp())
    payload = dict(claims) | {"iss": ISSUER, "iat": issued, "nbf": issued,
                              "exp": issued + int(lifetime.total_seconds()), "jti": str(uuid.uuid4()),
                              "ver": TOKEN_VERSION}
    if nonce is not None:
        payload["verifier_nonce"] = {"val": nonce}
    return jwt.encode(payload, key, algorithm=algorithm(public), headers={"kid": key_id(public), "typ": "JWT"})


def sign_result(result: DcapResult | IasResult, key: ec.EllipticCurvePrivateKey, *, nonce: str | None = None,
                lifetime: timedelta = timedelta(minutes=5), at: datetime | None = None) -> str:
    return sign_claims(result_claims(result), key, nonce=nonce, lifetime=lifetime, at=at)


def verify_token(token: str, key: ec.EllipticCurvePublicKey, *, at: datetime, nonce: str | None = None) -> dict[str, Any]:
    """The claims of a token signed by ``key`` and valid at ``at``; :class:`TokenInvalid` otherwise."""
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    if len(token) > MAX_TOKEN:
        raise TokenInvalid(f"token longer than {MAX_TOKEN} characters")
    alg = algorithm(key)
    try:
        header = jwt.get_unverified_header(token)
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], issuer=ISSUER,
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as e:
        raise TokenInvalid(f"token does not verify: {e}") from None
    if not hmac.compare_digest(str(header.get("kid", "")), key_id(key)):
        raise TokenInvalid("token's kid does not name this key")
    now = at.timestamp()
    if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
        raise TokenInvalid("iat and exp must be integers")
    if now < claims["iat"] or now < claims.get("nbf", claims["iat"]):
        raise TokenInvalid("token is not valid yet")
    if now >= claims["exp"]:
        raise TokenInvalid("token has expired")
    if nonce is not None:
        given = claims.get("verifier_nonce")
        value = given.get("val") if isinstance(given, dict) else None
        if not isinstance(value, str) or not hmac.compare_digest(value.encode(), nonce.encode()):
            raise TokenInvalid("token does not carry the expected nonce")
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
