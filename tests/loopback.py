"""Ports on 127.0.0.1 for the tests that start servers as programs."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    """A port nothing listens on just now (the OS's choice), for a program to be told to listen on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """Until 127.0.0.1:``port`` accepts a connection; fails if ``process`` ends first or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                errors = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"{process.args!r} ended (exit {process.returncode}) before listening on "
                                     f"port {port}: {errors}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.args!r} did not listen on port {port} within {timeout} s") from None
            time.sleep(0.05)  # polling for the server to listen, not a timing assertion
