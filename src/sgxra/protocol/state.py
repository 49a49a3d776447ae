"""The service provider's state between msg2 and msg3, as a plain value.

It holds the derived session keys but never a private key, and serialises to
a small JSON object so any session store (memory, Redis) can keep it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sgxra.errors import MalformedMessage
from sgxra.wire._codec import check_len
from sgxra.wire.quote import QuoteSignType

_SIZES = {"g_a": 64, "g_b": 64, "gid": 4, "spid": 16, "smk": 16, "sk": 16, "mk": 16, "vk": 16}
VERSION = 1
MAX_JSON_SIZE = 4096


@dataclass(frozen=True, repr=False)
class SpPendingState:
    """What a service provider keeps between msg2 and msg3 (so another replica can finish)."""
    g_a: bytes
    g_b: bytes
    gid: bytes
    spid: bytes
    quote_type: QuoteSignType
    smk: bytes
    sk: bytes
    mk: bytes
    vk: bytes

    def __post_init__(self) -> None:
        for name, size in _SIZES.items():
            check_len("sp_pending_state", name, getattr(self, name), size)

    def __repr__(self) -> str:
        return f"SpPendingState(gid={self.gid.hex()}, keys=<redacted>)"

    def to_json(self) -> str:
        fields: dict[str, Any] = {name: getattr(self, name).hex() for name in _SIZES}
        fields["quote_type"] = int(self.quote_type)
        fields["v"] = VERSION
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> SpPendingState:
        def bad(field: str, reason: str) -> MalformedMessage:
            return MalformedMessage("sp_pending_state", field, 0, reason)

        if len(text) > MAX_JSON_SIZE:
            raise bad("<json>", f"{len(text)} bytes exceeds {MAX_JSON_SIZE}")
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise bad("<json>", f"not JSON: {e}") from None
        if not isinstance(obj, dict):
            raise bad("<json>", "not an object")
        if obj.get("v") != VERSION:
            raise bad("v", f"unsupported version {obj.get('v')!r}")
        values: dict[str, bytes] = {}
        for name in _SIZES:
            raw = obj.get(name)
            if not isinstance(raw, str):
                raise bad(name, "missing or not a string")
            try:
                values[name] = bytes.fromhex(raw)
            except ValueError:
                raise bad(name, "not hex") from None
        quote_type = obj.get("quote_type")
        if quote_type not in (0, 1) or isinstance(quote_type, bool):
            raise bad("quote_type", f"must be 0 or 1, got {quote_type!r}")
        return cls(quote_type=QuoteSignType(quote_type), **values)
