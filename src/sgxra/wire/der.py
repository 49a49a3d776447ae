"""The little DER that Intel's PCK certificate SGX extension needs, both ways.

Only definite lengths, only the universal types the extension uses. Reading
is bounded: every length is checked against the bytes that remain.
"""

from __future__ import annotations

from typing import NamedTuple

from sgxra.errors import MalformedMessage

BOOLEAN, INTEGER, OCTET_STRING, OID, ENUMERATED, SEQUENCE = 0x01, 0x02, 0x04, 0x06, 0x0A, 0x30


class Tlv(NamedTuple):
    """One DER tag-length-value, with where it sits in the input."""
    tag: int
    value: bytes
    offset: int  # where the TLV starts in the outermost input
    value_offset: int  # where its value starts


def read_all(data: bytes, structure: str, base: int = 0) -> list[Tlv]:
    """Every TLV in ``data``, which they must fill exactly."""
    items, pos = [], 0
    while pos < len(data):
        tlv, pos = read_one(data, pos, structure, base)
        items.append(tlv)
    return items


def read_one(data: bytes, pos: int, structure: str, base: int) -> tuple[Tlv, int]:
    start = pos
    if len(data) - pos < 2:
        raise MalformedMessage(structure, "<der>", base + pos, "truncated tag or length")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) - pos < count:
            raise MalformedMessage(structure, "<der>", base + start, "unsupported or truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        _minimal_length(length, count, structure, base + start)
        pos += count
    if length > len(data) - pos:
        raise MalformedMessage(structure, "<der>", base + start, f"length {length} exceeds the {len(data) - pos} bytes left")
    return Tlv(tag, data[pos : pos + length], base + start, base + pos), pos + length


def _minimal_length(length: int, count: int, structure: str, offset: int) -> None:
    """DER, not BER: the long form only from 128 on, in as few bytes as the length needs (X.690 10.1)."""
    if length < 0x80 or length >> (8 * (count - 1)) == 0:
        raise MalformedMessage(structure, "<der>", offset, f"length {length} is not in its minimal DER form")


# (tag, value start, value end): one TLV as offsets into its input, for readers that copy nothing.
Span = tuple[int, int, int]


def span(data: bytes, pos: int, end: int, structure: str) -> Span:
    """The TLV at ``pos``, which must end by ``end`` (the rules of :func:`read_one`, without copying)."""
    if end - pos < 2:
        raise MalformedMessage(structure, "<der>", pos, "truncated tag or length")
    tag, length = data[pos], data[pos + 1]
    start = pos + 2
    if length >= 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or end - start < count:
            raise MalformedMessage(structure, "<der>", pos, "unsupported or truncated length")
        length = int.from_bytes(data[start : start + count], "big")
        _minimal_length(length, count, structure, pos)
        start += count
    if length > end - start:
        raise MalformedMessage(structure, "<der>", pos, f"length {length} exceeds the {end - start} bytes left")
    return tag, start, start + length


def expect(tlv: Tlv, tag: int, structure: str, field: str) -> bytes:
    if tlv.tag != tag:
        raise MalformedMessage(structure, field, tlv.offset, f"expected DER tag 0x{tag:02x}, got 0x{tlv.tag:02x}")
    return tlv.value


def decode_oid(value: bytes, structure: str, offset: int) -> str:
    if not value or value[-1] & 0x80:
        raise MalformedMessage(structure, "<oid>", offset, "malformed object identifier")
    arcs, current = [], 0
    for index, byte in enumerate(value):
        if byte == 0x80 and (index == 0 or not value[index - 1] & 0x80):  # an arc padded with 0x80 (X.690 8.19.2)
            raise MalformedMessage(structure, "<oid>", offset, "object identifier arc not in its minimal form")
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def decode_uint(value: bytes, structure: str, field: str, offset: int) -> int:
    if not value or value[0] & 0x80 or len(value) > 9:
        raise MalformedMessage(structure, field, offset, "not a small non-negative DER integer")
    return int.from_bytes(value, "big")


def encode(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + value


def encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return encode(OID, bytes(body))


def encode_uint(tag: int, value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # leading zero keeps it non-negative
    return encode(tag, raw)


def sequence(*items: bytes) -> bytes:
    return encode(SEQUENCE, b"".join(items))
