"""Bounds-checked reading and writing of little-endian SGX structures.

Every parser in ``sgxra.wire`` reads through :class:`Reader`, so a short or
over-long input always becomes a :class:`MalformedMessage` naming the field.
"""

from __future__ import annotations

from sgxra.errors import MalformedMessage


class Reader:
    """Reads fields in order from ``data``; never reads past its end."""

    def __init__(self, structure: str, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MalformedMessage(structure, "<input>", 0, f"expected bytes, got {type(data).__name__}")
        self.structure = structure
        self.data = bytes(data)
        self.offset = 0

    def error(self, field: str, reason: str, offset: int | None = None) -> MalformedMessage:
        return MalformedMessage(self.structure, field, self.offset if offset is None else offset, reason)

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def take(self, field: str, size: int) -> bytes:
        start = self.offset
        end = start + size
        if size < 0 or end > len(self.data):
            raise self.error(field, f"needs {size} bytes, {self.remaining} left (input is {len(self.data)} bytes)")
        self.offset = end
        return self.data[start:end]

    def u8(self, field: str) -> int:
        return self.take(field, 1)[0]

    def u16(self, field: str) -> int:
        return int.from_bytes(self.take(field, 2), "little")

    def u32(self, field: str) -> int:
        return int.from_bytes(self.take(field, 4), "little")

    def u64(self, field: str) -> int:
        return int.from_bytes(self.take(field, 8), "little")

    def rest(self, field: str) -> bytes:
        return self.take(field, self.remaining)

    def end(self) -> None:
        """Refuse trailing bytes: every structure has an exact length."""
        if self.remaining:
            raise self.error("<end>", f"{self.remaining} unexpected trailing bytes")


def check_len(structure: str, field: str, value: bytes, size: int) -> None:
    """Refuse a field of the wrong size when a structure is built in code."""
    if len(value) != size:
        raise MalformedMessage(structure, field, 0, f"must be {size} bytes, got {len(value)}")


def check_uint(structure: str, field: str, value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise MalformedMessage(structure, field, 0, f"must fit in an unsigned {bits}-bit integer, got {value}")


def u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def u64(value: int) -> bytes:
    return value.to_bytes(8, "little")
