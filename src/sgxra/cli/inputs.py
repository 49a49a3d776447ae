"""Reading the byte strings commands take: hex on the command line, or @FILE."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.verify.pki import load_pem_chain, load_urlencoded_chain

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


def parse_time(text: str) -> datetime:
    """ISO-8601 (UTC when no zone is given) or Unix seconds."""
    try:
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise MalformedMessage("time", "--at", 0, f"{text!r} is neither ISO-8601 nor Unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read_signature(path: Path) -> bytes:
    """A signature file holding base64 text or the raw bytes."""
    data = path.read_bytes()[: 64 * 1024]
    stripped = b"".join(data.split())
    if stripped and re.fullmatch(rb"[A-Za-z0-9+/]+={0,2}", stripped):
        try:
            return base64.b64decode(stripped, validate=True)
        except (binascii.Error, ValueError):
            pass
    return data


def read_chain(path: Path) -> list[x509.Certificate]:
    """A PEM chain, or the URL-encoded X-IASReport-Signing-Certificate header value."""
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return load_pem_chain(data, str(path))
    return load_urlencoded_chain(data.decode("ascii", "replace").strip(), str(path))
