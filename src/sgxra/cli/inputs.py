"""Reading the byte strings commands take: hex on the command line, or @FILE."""

from __future__ import annotations

import re
from pathlib import Path

from sgxra.errors import MalformedMessage

MAX_INPUT_BYTES = 16 * 1024 * 1024
_HEX = re.compile(rb"\A[0-9a-fA-F\s]*\Z")


def read_blob(arg: str) -> bytes:
    """``HEX`` or ``@FILE``; a file may hold hex text (as the sample logs it) or raw bytes."""
    if arg.startswith("@"):
        path = Path(arg[1:])
        with path.open("rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
        if len(data) > MAX_INPUT_BYTES:
            raise MalformedMessage("input", str(path), 0, f"larger than {MAX_INPUT_BYTES} bytes")
        return _decode_hex(data, str(path)) if data.strip() and _HEX.match(data) else data
    if len(arg) > 2 * MAX_INPUT_BYTES:
        raise MalformedMessage("input", "<argument>", 0, "too long")
    return _decode_hex(arg.encode("ascii", "replace"), "<argument>")


def _decode_hex(text: bytes, field: str) -> bytes:
    cleaned = b"".join(text.split())
    if not _HEX.match(cleaned):
        raise MalformedMessage("input", field, 0, "not hexadecimal")
    if len(cleaned) % 2:
        raise MalformedMessage("input", field, len(cleaned) // 2, "odd number of hex digits")
    return bytes.fromhex(cleaned.decode("ascii"))
