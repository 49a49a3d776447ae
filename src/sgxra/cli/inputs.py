"""Reading the evidence commands take, in the forms users have it.

Every command that reads a quote, a message or a report takes it the same way
(``INPUT_HELP`` says it in each command's help):

where: ``-`` is standard input, ``@FILE`` a file, a string naming an existing
file that file, and any other string the data itself (hex or base64);

what, decided from the bytes alone:

1. input holding a byte that is neither printable ASCII nor whitespace is raw
   bytes. A binary DCAP quote always is (it starts 03 00, 04 00 or 05 00; an
   EPID quote 01 00 or 02 00), as is every binary SGX message we read;
   an IAS report's JSON, which starts with ``{``, is also taken as it is;
2. other input is text: with whitespace removed, text starting ``0x`` must be
   hex, and text made only of hex digits is hex;
3. any other text must be base64 (standard or URL-safe alphabet, padded to a
   multiple of 4 characters) of what the command expects (its ``Shape``: a
   quote starts with its version, 1 to 5, then 00; a message has its size).

Text that fits none of these is an error naming the first character that is
not hex, never read as raw bytes: hex with a typo is often valid base64, and
the shape check is what refuses it. Text of hex digits only that was meant as
base64 is read as hex; a quote's base64 never is (it starts ``AQA``, ``AgA``,
``AwA``, ``BAA`` or ``BQA``).
"""

from __future__ import annotations

import base64
import binascii
import re
import string
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, NamedTuple

from cryptography import x509

from sgxra.errors import MalformedMessage
from sgxra.verify.pki import load_chain_text, load_pem_certificate

MAX_INPUT_BYTES = 16 * 1024 * 1024
INPUT_HELP = (
    "- (standard input), @FILE, FILE, or the data itself. Raw bytes (any byte that is not printable ASCII or "
    "whitespace; JSON starting with '{'), else hex (0x optional, whitespace allowed), else padded base64."
)
_TEXT_BYTES = string.printable.encode()
_NOT_HEX = re.compile(rb"[^0-9a-fA-F\s]")
_BASE64 = re.compile(rb"\A[A-Za-z0-9+/]*={0,2}\Z|\A[A-Za-z0-9_-]*={0,2}\Z")


class Shape(NamedTuple):
    """What a command expects, to tell its base64 from mistyped hex; ``text``: it may be read as it is."""

    name: str
    fits: Callable[[bytes], bool]
    text: bool = False


QUOTE = Shape("a quote (version 1 to 5)", lambda b: len(b) >= 2 and 1 <= b[0] <= 5 and b[1] == 0)
REPORT = Shape("an IAS report (JSON)", lambda b: b.lstrip()[:1] == b"{", text=True)
EVIDENCE = Shape("a quote or an IAS report bundle (JSON)", lambda b: QUOTE.fits(b) or REPORT.fits(b), text=True)
SIGNATURE = Shape("an RSA signature (256, 384 or 512 bytes)", lambda b: len(b) in (256, 384, 512))
ANY = Shape("anything", lambda b: True)


def read_input(arg: str, what: str, shape: Shape) -> bytes:
    """The bytes ``arg`` stands for (see the module's rule), for a command expecting ``shape``."""
    if arg == "-":
        data, where = _bounded(sys.stdin.buffer, "<stdin>"), "<stdin>"
    elif arg.startswith("@") or _is_file(arg):
        path = Path(arg[1:] if arg.startswith("@") else arg)
        with path.open("rb") as f:
            data, where = _bounded(f, str(path)), str(path)
    elif len(arg) > 2 * MAX_INPUT_BYTES:
        raise MalformedMessage("input", what, 0, "argument too long")
    else:  # the data itself: always text (an argument cannot hold raw bytes)
        data, where = arg.encode("utf-8", "surrogateescape"), "argument"
    if shape.text and shape.fits(data):
        return data
    if where != "argument" and (not data or data.translate(None, _TEXT_BYTES)):  # some byte is not text: raw
        return data
    return decode_text(data, f"{what} ({where})", shape)


def _is_file(arg: str) -> bool:
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):  # too long for a file name, or holding a NUL: data
        return False


def _bounded(stream: BinaryIO, where: str) -> bytes:
    data = stream.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise MalformedMessage("input", where, 0, f"larger than {MAX_INPUT_BYTES} bytes")
    return data


def decode_text(text: bytes, field: str, shape: Shape = ANY) -> bytes:
    """Hex (``0x`` optional) or padded base64, whitespace ignored; offsets in errors count from ``text``'s start."""
    start = len(text) - len(text.lstrip())
    prefixed = text[start : start + 2] in (b"0x", b"0X")
    body = text[start + 2 :] if prefixed else text[start:]
    base = start + 2 if prefixed else start
    bad = _NOT_HEX.search(body)
    cleaned = b"".join(body.split())
    if bad is None:
        if len(cleaned) % 2:
            raise MalformedMessage("input", field, len(cleaned) // 2, f"odd number of hex digits ({len(cleaned)})")
        return bytes.fromhex(cleaned.decode("ascii"))
    offset = base + bad.start()
    not_hex = f"not hex at offset {offset} ({bad.group().decode('latin-1')!r})"
    if prefixed:
        raise MalformedMessage("input", field, offset, not_hex)
    try:
        decoded = _base64(cleaned)
    except ValueError as e:
        raise MalformedMessage("input", field, offset, f"{not_hex}, and not base64: {e}") from None
    if not shape.fits(decoded):
        raise MalformedMessage("input", field, offset, f"{not_hex}, and read as base64 it is not {shape.name}")
    return decoded


def _base64(cleaned: bytes) -> bytes:
    if not _BASE64.match(cleaned):
        raise ValueError("characters outside the base64 alphabet")
    if len(cleaned) % 4:
        raise ValueError(f"{len(cleaned)} characters is not a multiple of 4 (base64 must be padded)")
    try:
        return base64.b64decode(cleaned.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
    except binascii.Error as e:
        raise ValueError(str(e)) from None


def parse_time(text: str) -> datetime:
    """ISO-8601 (UTC when no zone is given) or Unix seconds."""
    try:
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise MalformedMessage("time", "--at", 0, f"{text!r} is neither ISO-8601 nor Unix seconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read_chain(path: Path) -> list[x509.Certificate]:
    """A PEM chain, or the URL-encoded X-IASReport-Signing-Certificate header value."""
    return load_chain_text(path.read_bytes(), str(path))


def read_certificate(path: Path | str | None) -> x509.Certificate | None:
    """The PEM certificate in ``path`` (a root trusted instead of Intel's), or None without a path."""
    return load_pem_certificate(Path(path).read_bytes(), str(path)) if path else None
