"""What ``read_signed`` signs, the slow way: the reference the lean signed-JSON reader is held against.

json.loads refusing repeated members and the JSON constants (NaN, Infinity), then the compact re-serialisation
(members in their order, no spaces, non-ASCII kept) over which Intel's QVL verifies the signature.
"""

from __future__ import annotations

import json
from typing import Any


def compact_form(text: str) -> str | None:
    """The compact form read_signed re-serialises: None when it refuses the text."""
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len(dict(pairs)) != len(pairs):
            raise ValueError("repeated")
        return dict(pairs)

    def no_constant(name: str) -> None:
        raise ValueError(name)

    try:
        obj = json.loads(text, object_pairs_hook=unique, parse_constant=no_constant)
    except (ValueError, RecursionError):
        return None
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) if isinstance(obj, dict) else None


def signed_bytes(text: str) -> bytes | None:
    """The bytes read_signed signs: None when it refuses the text."""
    try:
        compact = compact_form(text)
        return None if compact is None else compact.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return None
