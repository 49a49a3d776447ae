"""Untrusted inputs of the new surfaces fail with typed errors only: policy documents, IAS bundles, tokens."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from sgxra.api import MAX_BUNDLE, IasEvidence
from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.validate.policy_file import KEYS, TDX_KEYS, PolicyFileError, parse_policy
from sgxra.verify.token import TokenInvalid, verify_token

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True),
                    st.text(max_size=100), st.sampled_from(["00" * 32, "00" * 48, "UpToDate", "Revoked", "*"]))
values: st.SearchStrategy[Any] = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
KEY = ec.generate_private_key(ec.SECP256R1()).public_key()


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*KEYS, "other"]), values, max_size=8),
       st.dictionaries(st.sampled_from([*TDX_KEYS, "other"]), values, max_size=4))
def test_policy_documents_parse_or_raise_policy_file_error(top: dict[str, Any], tdx: dict[str, Any]) -> None:
    try:
        parse_policy(top | {"tdx": tdx})
    except PolicyFileError as e:
        assert e.errors


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.dictionaries(st.sampled_from(
    ["report", "signature", "certificates", "nonce", "api_version"]), values, max_size=5).map(
    lambda d: json.dumps(d).encode())))
def test_ias_bundles_parse_or_raise_typed_errors(data: bytes) -> None:
    try:
        IasEvidence.from_json(data)
    except SgxRaError:
        pass


def test_deeply_nested_bundle_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedMessage, match="not JSON"):  # within the size bound: the depth is refused
        IasEvidence.from_json(b"[" * (MAX_BUNDLE - 1))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_tokens_verify_or_raise_token_invalid(token: str) -> None:
    try:
        verify_token(token, KEY, at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    except TokenInvalid:
        return
    raise AssertionError("random text verified as a token")
