"""Run an ASGI app on a real loopback socket in a background thread."""

from sgxra.transport.background import UvicornThread as ServerThread

__all__ = ["ServerThread"]
