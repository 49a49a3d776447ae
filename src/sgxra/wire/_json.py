"""Typed access to the members of a JSON object; every error names the member's path."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sgxra.errors import MalformedMessage


class JsonObject:
    """Typed access to members of a JSON object; errors name the member path."""

    def __init__(self, structure: str, source: str | bytes | dict[str, Any], path: str = "", *,
                 max_size: int = 512 * 1024) -> None:
        self.structure, self.path = structure, path
        if isinstance(source, (str, bytes)):
            if len(source) > max_size:
                raise MalformedMessage(structure, "<json>", 0, f"larger than {max_size} bytes")
            try:
                source = json.loads(source)
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                raise MalformedMessage(structure, "<json>", 0, f"not JSON: {e}") from None
        if not isinstance(source, dict):
            raise MalformedMessage(structure, path or "<json>", 0, "not a JSON object")
        self.obj: dict[str, Any] = source

    def error(self, name: str, reason: str) -> MalformedMessage:
        return MalformedMessage(self.structure, f"{self.path}{name}", 0, reason)

    def sub(self, value: Any, name: str) -> JsonObject:
        if not isinstance(value, dict):
            raise self.error(name, "missing or not a JSON object")
        return JsonObject(self.structure, value, f"{self.path}{name}.")

    def text(self, name: str) -> str:
        value = self.obj.get(name)
        if not isinstance(value, str):
            raise self.error(name, "missing or not a string")
        return value

    def integer(self, name: str) -> int:
        value = self.obj.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.error(name, "missing or not a non-negative integer")
        return value

    def hexbytes(self, name: str, size: int) -> bytes:
        try:
            value = bytes.fromhex(self.text(name))
        except ValueError:
            raise self.error(name, "not hex") from None
        if len(value) != size:
            raise self.error(name, f"must be {size} bytes, got {len(value)}")
        return value

    def time(self, name: str) -> datetime:
        text = self.text(name)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(name, f"{text!r} is not an ISO-8601 time") from None
        if parsed.tzinfo is None:
            raise self.error(name, "has no time zone")
        return parsed

    def items(self, name: str, *, required: bool = True) -> list[Any]:
        value = self.obj.get(name, None if required else [])
        if not isinstance(value, list):
            raise self.error(name, "missing or not a list")
        return value

    def optional_text(self, name: str) -> str | None:
        value = self.obj.get(name)
        if value is not None and not isinstance(value, str):
            raise self.error(name, f"must be a string, got {type(value).__name__}")
        return value

    def optional_integer(self, name: str) -> int | None:
        return None if self.obj.get(name) is None else self.integer(name)

    def base64(self, name: str, *, required: bool) -> bytes | None:
        text = self.text(name) if required else self.optional_text(name)
        if text is None:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.error(name, "not base64") from None
