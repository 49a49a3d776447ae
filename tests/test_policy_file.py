"""Policy files: every error at once, unknown keys named with the valid ones, revoked statuses refused."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from sgxra.validate.policy import Policy, TdxRules
from sgxra.validate.policy_file import KEYS, PolicyFileError, load_policy, parse_policy


def test_the_documented_example_parses(tmp_path: Path) -> None:
    import sgxra.validate.policy_file as module

    example = (module.__doc__ or "").split("::", 1)[1].split("Every error", 1)[0]
    text = re.sub(r'"\.\.\."', '"' + "ab" * 48 + '"', example)  # placeholders stand for 48-byte values
    text = text.replace('"00..00"', '"' + "00" * 16 + '"').replace('min_tee_tcb_svn = "' + "ab" * 48 + '"',
                                                                   'min_tee_tcb_svn = "' + "01" * 16 + '"')
    path = tmp_path / "policy.toml"
    path.write_text("\n".join(line[4:] for line in text.splitlines()))
    loaded = load_policy(path)
    policy = loaded.policy
    assert policy.policy_id == "payments-enclave" and policy.min_isv_svn == 1 and loaded.report_max_age == 600
    assert policy.max_collateral_age == timedelta(days=30) and policy.min_tcb_evaluation_data_number == 17
    assert isinstance(policy.tdx, TdxRules) and policy.tdx.mr_td == frozenset({bytes.fromhex("ab" * 48)})
    assert policy.tdx.min_tee_tcb_svn == bytes([1] * 16) and policy.isv_ext_prod_id == bytes(16)


def test_unknown_key_is_named_with_the_valid_keys() -> None:
    with pytest.raises(PolicyFileError) as raised:
        parse_policy({"mr_enclave": ["00" * 32]})
    assert raised.value.errors == (f"mr_enclave: unknown key; valid keys are {', '.join(KEYS)}",)


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('mr_signers = ["12"]\nmin_isv_svn = -1\nallow_debug = "yes"\nfoo = 1\n'
                    'platform_grace_period = -5\naccepted_statuses = ["Fine"]\n[tdx]\nbar = 2\n')
    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)
    errors = raised.value.errors
    assert len(errors) == 7, errors
    for fragment in ("foo: unknown key", "tdx.bar: unknown key", "mr_signers: '12' is not 32 bytes of hex",
                     "min_isv_svn: must be an integer 0..65535", "allow_debug: must be true or false",
                     "platform_grace_period: must be 0 or a number of seconds up to", "accepted_statuses: unknown Fine"):
        assert any(fragment in e for e in errors), fragment
    assert all(e.startswith(f"{path}: ") for e in errors)


@pytest.mark.parametrize("status", ["GROUP_REVOKED", "KEY_REVOKED", "SIGNATURE_REVOKED", "Revoked"])
def test_a_file_accepting_a_revoked_status_is_refused(status: str) -> None:
    with pytest.raises(PolicyFileError, match=f"revoked evidence is never acceptable: remove {status}"):
        parse_policy({"mr_signers": ["00" * 32], "accepted_statuses": ["OK", status]})


def test_defaults_accept_only_up_to_date_and_no_advisory() -> None:
    policy = parse_policy({"mr_signers": ["00" * 32]}).policy
    assert policy.accepted_statuses == Policy().accepted_statuses == frozenset({"OK", "UpToDate"})
    assert policy.accepted_advisories == frozenset() and policy.tdx is None and policy.max_collateral_age is None
