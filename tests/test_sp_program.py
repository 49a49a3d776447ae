"""`sgxra sp`, `sgxra client` and `sgxra keygen` as programs: settings, policy, TCP, -z, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from loopback import free_port, wait_for_port
from sgxra.cli.keys import write_sp_key
from sgxra.crypto import private_key_from_le
from sgxra.sim import SAMPLE_SP_PRIVATE_KEY_LE
from sgxra.transport.background import UvicornThread
from sp_env import IAS_KEY, PKI, PLATFORMS, SGXRA, mock_ias, sp_files


@pytest.fixture(scope="module")
def ias() -> Iterator[UvicornThread]:
    with mock_ias() as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path, ias: UvicornThread) -> Path:
    (tmp_path / "ias-root.pem").write_bytes(PKI.root.public_bytes(Encoding.PEM))
    (tmp_path / "ias.key").write_text(IAS_KEY + "\n")
    public, sp_section = sp_files(tmp_path, "s3cret")
    (tmp_path / "sp.pub").write_text(public)
    (tmp_path / "settings.toml").write_text(f"""{sp_section}
[ias]
url = "{ias.url}"
primary_key_file = "{tmp_path / 'ias.key'}"
report_signing_ca = "{tmp_path / 'ias-root.pem'}"

[log]
verbose = true
file = "{tmp_path / 'sp.log'}"
""")
    return tmp_path


def client_args(workdir: Path, *extra: str) -> list[str]:
    return [*SGXRA, "client", "--platform-seed", PLATFORMS["ok"].seed, "--sp-public-key",
            (workdir / "sp.pub").read_text(), *extra]


def test_keygen_prints_the_enclave_initializer(tmp_path: Path) -> None:
    out = subprocess.run([*SGXRA, "keygen", "-o", str(tmp_path / "k.pem")], capture_output=True, text=True).stdout
    assert "static const sgx_ec256_public_t def_service_public_key" in out and out.count("0x") == 64
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    again = subprocess.run([*SGXRA, "keygen", "-o", str(tmp_path / "k.pem")], capture_output=True, text=True)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_sp_over_tcp_and_http_then_sigterm(workdir: Path) -> None:
    port, http_port = free_port(), free_port()
    sp = subprocess.Popen([*SGXRA, "sp", "--settings", str(workdir / "settings.toml"), "--port", str(port),
                           "--http-port", str(http_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, sp)
        wait_for_port(http_port, sp)
        tcp = subprocess.run(client_args(workdir, "--port", str(port)), capture_output=True, text=True, timeout=60)
        assert tcp.returncode == 0, tcp.stderr
        assert "verdict: Trusted" in tcp.stdout and "'s3cret'" in tcp.stdout
        http = subprocess.run(client_args(workdir, "--http", f"http://127.0.0.1:{http_port}", "--debug-enclave"),
                              capture_output=True, text=True, timeout=60)
        assert http.returncode == 6 and "reason: POLICY" in http.stdout and "secret: none" in http.stdout
    finally:
        sp.send_signal(signal.SIGTERM)
        _, err = sp.communicate(timeout=30)
    assert sp.returncode == 0, err
    assert "stopped: 1 sessions completed, 1 trusted" in err
    log = (workdir / "sp.log").read_text()
    assert "Trusted (trusted)" in log and "debug mode" in log


def test_sample_key_is_refused_without_the_flag(workdir: Path) -> None:
    write_sp_key(private_key_from_le(SAMPLE_SP_PRIVATE_KEY_LE), workdir / "sample.key")
    result = subprocess.run([*SGXRA, "sp", "--settings", str(workdir / "settings.toml"), "--key",
                             str(workdir / "sample.key"), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "Intel's published sample key" in result.stderr


def test_stdio_modes_talk_to_each_other(workdir: Path) -> None:
    to_sp_read, to_sp_write = os.pipe()
    to_client_read, to_client_write = os.pipe()
    sp = subprocess.Popen([*SGXRA, "sp", "-z", "--settings", str(workdir / "settings.toml")],
                          stdin=to_sp_read, stdout=to_client_write, stderr=subprocess.PIPE, text=True)
    client = subprocess.Popen(client_args(workdir, "-z"), stdin=to_client_read, stdout=to_sp_write,
                              stderr=subprocess.PIPE, text=True)
    for fd in (to_sp_read, to_sp_write, to_client_read, to_client_write):
        os.close(fd)
    _, client_err = client.communicate(timeout=60)
    _, sp_err = sp.communicate(timeout=60)  # the client's exit closes the SP's stdin: a clean end
    assert client.returncode == 0, client_err
    assert "verdict: Trusted" in client_err and "'s3cret'" in client_err
    assert sp.returncode == 0, sp_err


@pytest.mark.parametrize(
    ("payload", "message"),
    [("zz\n", "not hexadecimal"), ("abc\n", "odd number of hex digits"), ("ab" * 300_000 + "\n", "in the middle"),
     ("00" * 72, "in the middle of a line")],
    ids=["non-hex", "odd-length", "over-size-limit", "stops-mid-line"],
)
def test_stdio_refuses_garbage_and_ends_at_eof(workdir: Path, payload: str, message: str) -> None:
    result = subprocess.run([*SGXRA, "sp", "-z", "--settings", str(workdir / "settings.toml"),
                             "--max-message-size", "4096"], input=payload, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert message in result.stderr


def test_startup_errors_are_one_line_and_the_usage_code(workdir: Path) -> None:
    (workdir / "binary.toml").write_bytes(b"\xff\xfe\x00")
    cases = [
        (["--key", str(workdir)], "cannot read the service provider key"),  # a directory: unreadable as a key
        (["--policy", str(workdir / "missing.toml")], "cannot read the policy file"),
        (["--policy", str(workdir / "binary.toml")], "cannot read the policy file"),
    ]
    if os.geteuid() != 0:  # root reads files whatever their mode
        (workdir / "locked.key").write_text("x")
        (workdir / "locked.key").chmod(0)
        cases.append((["--key", str(workdir / "locked.key")], "cannot read the service provider key"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = [([*args, "--port", str(free_port())], message) for args, message in cases] + [
            (["--port", port], "address already in use"),
            (["--port", str(free_port()), "--http-port", port], "cannot listen for the HTTP/JSON API"),
            (["--port", str(free_port()), "--metrics-port", port], "cannot listen for /metrics"),
        ]
        runs = [subprocess.Popen([*SGXRA, "sp", "--settings", str(workdir / "settings.toml"), *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args, _ in cases]
        results = [(run.communicate(timeout=60)[1], run.returncode) for run in runs]
    for (args, message), (stderr, code) in zip(cases, results, strict=True):
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("sgxra sp: error:"), (args, stderr)
        assert message in lines[0], (args, lines)
