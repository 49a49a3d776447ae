"""Helpers for the PCS client tests."""

from __future__ import annotations

import httpx


class Recording(httpx.HTTPTransport):
    """A real loopback transport that remembers every URL it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return super().handle_request(request)

    @property
    def paths(self) -> list[str]:
        return [url.raw_path.decode() for url in self.urls]
