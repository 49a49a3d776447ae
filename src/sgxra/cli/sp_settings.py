"""Settings of ``sgxra sp``: a TOML file, overridden by command-line options.

Everything the sample's ``settings`` file and options cover, for example::

    [sp]
    spid = "928a6b0e3cddad56eb3badaa3b63f71f"
    linkable = false
    key_file = "sp.key"                # written by `sgxra keygen`
    hosts = ["0.0.0.0", "::"]          # default: every interface, IPv4 and IPv6
    port = 7777
    http_port = 8080                   # also serve the HTTP/JSON API (and /metrics)
    metrics_port = 9100                # /metrics on a port of its own (for TCP-only deployments)
    policy_file = "policy.toml"
    secret_file = "secret.bin"         # provisioned to trusted enclaves
    msg4 = "authenticated"             # or "sample", for Intel's sample client
    redis_url = "redis://127.0.0.1:6379/0"   # share sessions between replicas (rediss:// for TLS,
                                             # redis://:PASSWORD@host:port/db with a password)
    store_key_file = "store.key"       # ID:64-hex-digits per line, shared by the replicas; the first
                                       # seals, all open (rotation); or $SGXRA_STORE_KEY
    token_key_file = "token.key"       # EC private key (PEM): HTTP answers carry trusted verdicts as JWTs

    [ias]
    url = "development"                # "production", or any base URL
    api_version = 5
    primary_key_file = "ias-primary.txt"     # or $SGXRA_IAS_PRIMARY_KEY
    secondary_key_file = "ias-secondary.txt" # or $SGXRA_IAS_SECONDARY_KEY
    report_signing_ca = "ias-root.pem"       # default: Intel's pinned root

    [dcap]
    pccs_url = "https://pccs.example:8081/sgx/certification/v4"
    root_ca = "sgx-root.pem"           # default: Intel's pinned SGX Root CA
    cache_file = ".sgxra/collateral.sqlite"

    [limits]
    max_message_size = 262144          # bytes of one message
    session_timeout = 30               # seconds for a whole TCP session
    session_ttl = 60                   # seconds between msg2 and msg3
    max_sessions = 1024                # in flight at once
    first_message_timeout = 5          # seconds for msg0||msg1 (TCP) or a request body (HTTP)
    max_per_client = 64                # connections (TCP) or requests (HTTP) in flight per client address

    [log]
    verbose = false
    debug = false                      # logs session keys: development only
    file = "sp.log"
    json = false                       # JSON lines, each with its session id

Subscription keys live in files or the environment, never in this file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from sgxra.ias.client import DEV_BASE_URL, PROD_BASE_URL

SECTIONS: dict[str, dict[str, str]] = {
    "sp": {"spid": "spid", "linkable": "linkable", "key_file": "key_file", "hosts": "hosts", "port": "port",
           "http_port": "http_port", "metrics_port": "metrics_port", "policy_file": "policy_file",
           "secret_file": "secret_file", "msg4": "msg4", "redis_url": "redis_url", "store_key_file": "store_key_file",
           "token_key_file": "token_key_file"},
    "ias": {"url": "ias_url", "api_version": "ias_api_version", "primary_key_file": "ias_primary_key_file",
            "secondary_key_file": "ias_secondary_key_file", "report_signing_ca": "ias_root"},
    "dcap": {"pccs_url": "pccs_url", "root_ca": "dcap_root", "cache_file": "collateral_cache"},
    "limits": {"max_message_size": "max_message", "session_timeout": "session_timeout",
               "session_ttl": "session_ttl", "max_sessions": "max_sessions",
               "first_message_timeout": "first_message_timeout", "max_per_client": "max_per_client"},
    "log": {"verbose": "verbose", "debug": "debug", "file": "log_file", "json": "log_json"},
}


class SettingsError(ValueError):
    """The settings are not usable; the message names the setting."""


@dataclass(frozen=True)
class SpSettings:
    spid: str = "00" * 16
    linkable: bool = False
    key_file: str | None = None
    insecure_sample_key: bool = False
    hosts: list[str] | None = None
    port: int = 7777
    http_port: int | None = None
    metrics_port: int | None = None
    stdio: bool = False
    policy_file: str | None = None
    secret_file: str | None = None
    msg4: str = "authenticated"
    redis_url: str | None = None
    store_key_file: str | None = None
    token_key_file: str | None = None
    ias_url: str = "development"
    ias_api_version: int = 5
    ias_primary_key_file: str | None = None
    ias_secondary_key_file: str | None = None
    ias_root: str | None = None
    pccs_url: str | None = None
    dcap_root: str | None = None
    collateral_cache: str = ".sgxra/collateral.sqlite"
    max_message: int = 256 * 1024
    session_timeout: float = 30.0
    session_ttl: float = 60.0
    max_sessions: int = 1024
    first_message_timeout: float = 5.0
    max_per_client: int = 64
    verbose: bool = False
    debug: bool = False
    log_file: str = "sp.log"
    log_json: bool = False

    def __post_init__(self) -> None:
        try:
            spid = bytes.fromhex(self.spid)
        except ValueError:
            spid = b""
        if len(spid) != 16:
            raise SettingsError(f"spid must be 32 hex digits, got {self.spid!r}")
        if self.msg4 not in ("authenticated", "sample"):
            raise SettingsError("msg4 must be 'authenticated' or 'sample'")
        if self.ias_api_version not in (3, 4, 5):
            raise SettingsError("ias api_version must be 3, 4 or 5")
        for name in ("max_message", "max_sessions", "port", "max_per_client", "first_message_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.session_timeout <= 0 or self.session_ttl <= 0:
            raise SettingsError("session_timeout and session_ttl must be positive")

    @property
    def spid_bytes(self) -> bytes:
        return bytes.fromhex(self.spid)

    @property
    def ias_base_url(self) -> str:
        return {"development": DEV_BASE_URL, "production": PROD_BASE_URL}.get(self.ias_url, self.ias_url)

    def ias_keys(self) -> tuple[str | None, str | None]:
        """Subscription keys from their files, else from $SGXRA_IAS_PRIMARY_KEY / $SGXRA_IAS_SECONDARY_KEY."""
        def key(path: str | None, env: str) -> str | None:
            if path:
                return Path(path).read_text().strip() or None
            return os.environ.get(env) or None

        return (key(self.ias_primary_key_file, "SGXRA_IAS_PRIMARY_KEY"),
                key(self.ias_secondary_key_file, "SGXRA_IAS_SECONDARY_KEY"))


def load_settings(path: Path | None, overrides: dict[str, Any]) -> SpSettings:
    """The file's settings with every non-None override applied on top."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{path}: {e}") from None
        for section, table in data.items():
            if section not in SECTIONS or not isinstance(table, dict):
                raise SettingsError(f"{path}: unknown section [{section}]")
            for key, value in table.items():
                if key not in SECTIONS[section]:
                    raise SettingsError(f"{path}: unknown setting {section}.{key}")
                values[SECTIONS[section][key]] = value
    known = {f.name for f in fields(SpSettings)}
    values.update({k: v for k, v in overrides.items() if v is not None and k in known})
    try:
        return replace(SpSettings(), **values)
    except TypeError as e:
        raise SettingsError(str(e)) from None
