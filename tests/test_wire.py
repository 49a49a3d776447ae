from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgxra.errors import MalformedMessage, SgxRaError
from sgxra.wire import (
    EpidQuote,
    Msg2,
    Msg3,
    Msg4,
    PlatformInfoBlob,
    QuoteSignType,
    ReportBody,
    der,
)
from sgxra.wire.messages import MAX_SIGRL_SIZE
from strategies import STRUCTURES, pibs

NAMES = sorted(STRUCTURES)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_parse_of_to_bytes_is_identity(name: str, data: st.DataObject) -> None:
    cls, strategy = STRUCTURES[name]
    value = data.draw(strategy)
    assert cls.parse(value.to_bytes()) == value


@pytest.mark.parametrize("name", NAMES)
@given(raw=st.binary(max_size=2048))
@settings(max_examples=150, deadline=None)
def test_random_bytes_raise_only_sgxra_errors(name: str, raw: bytes) -> None:
    cls, _ = STRUCTURES[name]
    try:
        cls.parse(raw)
    except SgxRaError:
        pass


@given(raw=st.binary(max_size=300))
@settings(max_examples=150, deadline=None)
def test_random_tlv_raises_only_sgxra_errors(raw: bytes) -> None:
    try:
        PlatformInfoBlob.parse_tlv(raw)
    except SgxRaError:
        pass


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_truncated_and_over_long_inputs_name_the_structure(name: str, data: st.DataObject) -> None:
    cls, strategy = STRUCTURES[name]
    raw = data.draw(strategy).to_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    extra = data.draw(st.binary(min_size=1, max_size=16))
    if name == "msg3":
        # msg3's quote runs to the end of the message: a cut or extra bytes surface when the quote is read.
        with pytest.raises(MalformedMessage) as short:
            EpidQuote.parse(Msg3.parse(raw[:cut]).quote)
        assert short.value.structure in ("msg3", "quote")
        with pytest.raises(MalformedMessage, match="trailing"):
            EpidQuote.parse(Msg3.parse(raw + extra).quote)
    else:
        with pytest.raises(MalformedMessage) as short:
            cls.parse(raw[:cut])
        assert short.value.structure == name
        with pytest.raises(MalformedMessage, match="trailing") as long:
            cls.parse(raw + extra)
        assert long.value.field == "<end>" and long.value.offset == len(raw)


def test_errors_name_field_and_offset() -> None:
    with pytest.raises(MalformedMessage) as info:
        ReportBody.parse(bytes(100))
    assert (info.value.structure, info.value.field, info.value.offset) == ("report_body", "reserved2", 96)
    assert "needs 32 bytes, 4 left" in str(info.value)


def test_report_body_truncation_points_at_the_field() -> None:
    with pytest.raises(MalformedMessage) as info:
        ReportBody.parse(bytes(257))
    assert info.value.field == "isv_prod_id" and info.value.offset == 256


def test_quote_version_and_sign_type_are_checked() -> None:
    raw = EpidQuote.parse(_quote_bytes()).to_bytes()
    with pytest.raises(MalformedMessage, match="version") as v:
        EpidQuote.parse(b"\x03\x00" + raw[2:])
    assert v.value.field == "version" and v.value.offset == 0
    with pytest.raises(MalformedMessage) as s:
        EpidQuote.parse(raw[:2] + b"\x02\x00" + raw[4:])
    assert s.value.field == "sign_type" and s.value.offset == 2


def test_huge_signature_length_is_refused_before_reading() -> None:
    raw = _quote_bytes()
    huge = raw[:432] + (0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(MalformedMessage, match="exceeds the limit") as info:
        EpidQuote.parse(huge)
    assert info.value.field == "signature_len" and info.value.offset == 432


def test_sigrl_size_larger_than_the_data() -> None:
    msg2 = Msg2(bytes(64), bytes(16), QuoteSignType.LINKABLE, 1, bytes(64), bytes(16), b"abc")
    raw = msg2.to_bytes()
    with pytest.raises(MalformedMessage) as info:
        Msg2.parse(raw[:164] + (10).to_bytes(4, "little") + b"abc")
    assert info.value.field == "sig_rl" and info.value.offset == 168
    with pytest.raises(MalformedMessage, match="exceeds the limit") as huge:
        Msg2.parse(raw[:164] + (MAX_SIGRL_SIZE + 1).to_bytes(4, "little"))
    assert huge.value.field == "sig_rl_size"


def test_msg4_status_out_of_range() -> None:
    with pytest.raises(MalformedMessage, match="0..3") as info:
        Msg4.parse((4).to_bytes(4, "little") + bytes(101))
    assert info.value.field == "status"


def test_msg3_quote_size_bounds() -> None:
    with pytest.raises(MalformedMessage) as info:
        Msg3.parse(bytes(336 + 10))
    assert info.value.field == "quote" and info.value.offset == 336


def test_constructors_refuse_wrong_sizes() -> None:
    with pytest.raises(MalformedMessage, match="g_b"):
        Msg2(bytes(63), bytes(16), QuoteSignType.LINKABLE, 1, bytes(64), bytes(16), b"")
    with pytest.raises(MalformedMessage, match="isv_svn"):
        ReportBody.build(mr_enclave=bytes(32), mr_signer=bytes(32), isv_svn=70000)


@given(pib=pibs)
@settings(max_examples=40, deadline=None)
def test_pib_tlv_round_trips_as_ias_hex(pib: PlatformInfoBlob) -> None:
    text = pib.to_tlv_hex()
    assert text.startswith("150200") and text == text.upper() and len(text) == 2 * 105
    assert PlatformInfoBlob.parse_tlv_hex(text) == pib
    assert PlatformInfoBlob.parse_tlv_hex(text.lower()) == pib


@pytest.mark.parametrize(
    ("tlv", "field"),
    [
        ("1602" + "0065" + "00" * 101, "type"),
        ("1501" + "0065" + "00" * 101, "version"),
        ("1502" + "0064" + "00" * 101, "size"),
        ("1502" + "0065" + "00" * 100, "signature"),
        ("15zz", "<hex>"),
    ],
)
def test_pib_tlv_errors(tlv: str, field: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        PlatformInfoBlob.parse_tlv_hex(tlv)
    assert info.value.field == field


def test_pib_flag_names() -> None:
    pib = PlatformInfoBlob.parse(bytes([0x04, 0x00, 0x09]) + bytes(98))
    names = pib.flag_names
    assert names["sgx_epid_group_flags"] == ("QE_EPID_GROUP_OUT_OF_DATE",)
    assert names["sgx_tcb_evaluation_flags"] == ("QUOTE_CPUSVN_OUT_OF_DATE", "PLATFORM_CONFIGURATION_NEEDED")


def test_attribute_flag_names() -> None:
    body = ReportBody.parse(bytes(48) + (0x7).to_bytes(8, "little") + bytes(328))
    assert body.attributes.flag_names == ("INITTED", "DEBUG", "MODE64BIT") and body.attributes.debug


def test_msg2_keeps_its_sigrl() -> None:
    msg2 = Msg2(bytes(64), bytes(16), QuoteSignType.UNLINKABLE, 1, bytes(64), bytes(16), b"\x01" * 300)
    raw = msg2.to_bytes()
    assert len(raw) == 168 + 300 and Msg2.parse(raw).sig_rl == b"\x01" * 300


def _quote_bytes() -> bytes:
    body = ReportBody.build(mr_enclave=bytes(32), mr_signer=bytes(32))
    return EpidQuote(2, QuoteSignType.UNLINKABLE, bytes(4), 0, 0, 0, bytes(32), body, b"sig").to_bytes()



@pytest.mark.parametrize("encoded", [
    bytes((0x04, 0x81, 0x05)) + bytes(5),  # long form for a length under 128
    bytes((0x04, 0x82, 0x00, 0x80)) + bytes(128),  # a leading zero length byte
    bytes((0x04, 0x84, 0x00, 0x00, 0x00, 0x01)) + bytes(1),  # what a BER writer may emit
])
def test_der_lengths_must_be_minimal(encoded: bytes) -> None:
    """DER, not BER (X.690 10.1): the RA-TLS certificate reader must not take what pyca would refuse."""
    with pytest.raises(MalformedMessage, match="minimal DER form"):
        der.read_one(encoded, 0, "test", 0)
    with pytest.raises(MalformedMessage, match="minimal DER form"):
        der.span(encoded, 0, len(encoded), "test")
    assert der.read_one(der.encode(0x04, bytes(128)), 0, "test", 0)[0].value == bytes(128)


def test_oid_arcs_must_be_minimal() -> None:
    assert der.decode_oid(der.encode_oid("1.2.840.113741.1.13.1")[2:], "test", 0) == "1.2.840.113741.1.13.1"
    padded = bytes((0x2A, 0x80, 0x86, 0x48))  # 1.2 then 840 padded with a leading 0x80
    with pytest.raises(MalformedMessage, match="minimal form"):
        der.decode_oid(padded, "test", 0)
