"""The real session printed in intel/sgx-ra-sample's README."""

from __future__ import annotations

from typing import Any

import pytest

from sgxra import crypto
from sgxra.errors import BadSignature
from sgxra.sim import SAMPLE_SP_PRIVATE_KEY_LE, SAMPLE_SP_PUBLIC_KEY_LE
from sgxra.wire import (
    AttestationStatus,
    EpidQuote,
    Msg0Msg1,
    Msg2,
    Msg3,
    Msg4,
    QuoteSignType,
)

MESSAGES = [("msg0_msg1_hex", Msg0Msg1), ("msg2_hex", Msg2), ("msg3_hex", Msg3), ("msg4_hex", Msg4)]


@pytest.mark.parametrize(("key", "cls"), MESSAGES)
def test_every_message_round_trips_byte_for_byte(sample_session: dict[str, Any], key: str, cls: Any) -> None:
    raw = bytes.fromhex(sample_session[key])
    assert cls.parse(raw).to_bytes() == raw


def test_embedded_sample_keys_match_the_vector(sample_session: dict[str, Any]) -> None:
    public = sample_session["sample_sp_public_key_le_hex"]
    assert SAMPLE_SP_PRIVATE_KEY_LE.hex() == sample_session["sample_sp_private_key_le_hex"]
    assert SAMPLE_SP_PUBLIC_KEY_LE.hex() == public["gx"] + public["gy"]
    derived = crypto.public_key_to_point(crypto.private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE).public_key())
    assert derived == SAMPLE_SP_PUBLIC_KEY_LE


def test_msg2_signature_verifies_under_the_sample_key(sample_session: dict[str, Any]) -> None:
    msg01 = Msg0Msg1.parse(bytes.fromhex(sample_session["msg0_msg1_hex"]))
    msg2 = Msg2.parse(bytes.fromhex(sample_session["msg2_hex"]))
    crypto.verify_gb_ga(SAMPLE_SP_PUBLIC_KEY_LE, msg2.g_b, msg01.msg1.g_a, msg2.sign_gb_ga)
    assert msg2.kdf_id == 1 and msg2.quote_type is QuoteSignType.UNLINKABLE and msg2.sig_rl == b""


def test_msg2_signature_fails_under_another_g_a(sample_session: dict[str, Any]) -> None:
    msg2 = Msg2.parse(bytes.fromhex(sample_session["msg2_hex"]))
    with pytest.raises(BadSignature):
        crypto.verify_gb_ga(SAMPLE_SP_PUBLIC_KEY_LE, msg2.g_b, msg2.g_b, msg2.sign_gb_ga)


def test_points_of_the_session_are_on_the_curve(sample_session: dict[str, Any]) -> None:
    msg01 = Msg0Msg1.parse(bytes.fromhex(sample_session["msg0_msg1_hex"]))
    msg2 = Msg2.parse(bytes.fromhex(sample_session["msg2_hex"]))
    crypto.point_to_public_key(msg01.msg1.g_a)
    crypto.point_to_public_key(msg2.g_b, "g_b")


def test_quote_in_msg3_carries_the_sample_enclave(sample_session: dict[str, Any]) -> None:
    msg01 = Msg0Msg1.parse(bytes.fromhex(sample_session["msg0_msg1_hex"]))
    msg3 = Msg3.parse(bytes.fromhex(sample_session["msg3_hex"]))
    quote = EpidQuote.parse(msg3.quote)
    body = quote.report_body
    assert msg3.g_a == msg01.msg1.g_a
    assert quote.epid_group_id == msg01.msg1.gid and quote.gid == 0x00000AE0
    assert quote.version == 2 and quote.sign_type is QuoteSignType.UNLINKABLE
    assert body.mr_signer.hex() == "bd71c6380ef77c5417e8b2d1ce2d4b6504b9f418e5049342440cfff2443d95bd"
    assert body.isv_prod_id == 0 and body.isv_svn == 1
    assert body.attributes.debug
    assert len(quote.signature) == 680


def test_msg4_of_the_older_sample(sample_session: dict[str, Any]) -> None:
    msg4 = Msg4.parse(bytes.fromhex(sample_session["msg4_hex"]))
    # The older sample's enum put "trusted" at 1; the wire value is kept as is.
    assert msg4.status is AttestationStatus(1)
    assert msg4.platform_info_blob.to_bytes() == bytes(101)
