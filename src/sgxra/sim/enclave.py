"""A software enclave doing what the SDK's sgx_ra_* trusted functions do."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from sgxra import crypto
from sgxra.errors import LocalProtocolError, RemoteProtocolError
from sgxra.protocol.msg4 import OpenedMsg4, open_msg4
from sgxra.sim.sample_keys import SAMPLE_SP_PUBLIC_KEY_LE
from sgxra.wire.messages import PS_SEC_PROP_SIZE, Msg1, Msg2, Msg3
from sgxra.wire.quote import QuoteSignType
from sgxra.wire.report_body import AttributeFlags, Attributes, ReportBody

DEFAULT_MR_ENCLAVE = hashlib.sha256(b"sgxra simulated enclave").digest()
DEFAULT_MR_SIGNER = hashlib.sha256(b"sgxra simulated enclave signer").digest()


@dataclass(frozen=True)
class EnclaveIdentity:
    """What a report says about the enclave: measurement, signer, product, SVN, debug."""

    mr_enclave: bytes = DEFAULT_MR_ENCLAVE
    mr_signer: bytes = DEFAULT_MR_SIGNER
    isv_prod_id: int = 0
    isv_svn: int = 1
    debug: bool = False

    def report_body(self, report_data: bytes) -> ReportBody:
        flags = AttributeFlags.INITTED | AttributeFlags.MODE64BIT | (AttributeFlags.DEBUG if self.debug else 0)
        return ReportBody.build(
            mr_enclave=self.mr_enclave, mr_signer=self.mr_signer, isv_prod_id=self.isv_prod_id,
            isv_svn=self.isv_svn, attributes=Attributes(int(flags), 0x7), report_data=report_data,
        )


class QuotingEnclave(Protocol):
    """What the enclave asks of a quoting enclave (EPID or ECDSA, simulated or real)."""

    @property
    def gid(self) -> bytes: ...

    def get_quote(
        self, report_body: ReportBody, quote_type: QuoteSignType, spid: bytes, sig_rl: bytes = b""
    ) -> bytes: ...


class InProcessEnclave(ABC):
    """One remote attestation context (sgx_ra_init) whose key exchange runs in this process.

    It holds the service provider's public key, as a real enclave embeds it,
    and refuses any msg2 not signed by that key or not MACed under SMK.
    Subclasses say where the quote over the binding comes from: a simulated
    quoting enclave, or the TEE the whole process runs in (Gramine).
    """

    def __init__(self, sp_public_key_le: bytes, *, ephemeral_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        crypto.point_to_public_key(sp_public_key_le, "sp_public_key")
        self.sp_public_key_le = sp_public_key_le
        self._key = ephemeral_key or ec.generate_private_key(ec.SECP256R1())
        self._g_a = crypto.public_key_to_point(self._key.public_key())
        self._keys: crypto.SessionKeys | None = None

    @property
    @abstractmethod
    def gid(self) -> bytes:
        """The EPID group msg1 announces (zeros for ECDSA)."""

    @abstractmethod
    def quote(self, report_data: bytes, msg2: Msg2) -> bytes:
        """A quote whose report data is ``report_data`` (the binding of this session)."""

    def extended_epid_group_id(self) -> int:
        return 0

    def get_msg1(self) -> Msg1:
        return Msg1(g_a=self._g_a, gid=self.gid)

    def proc_msg2(self, msg2: Msg2) -> Msg3:
        if self._keys is not None:
            raise LocalProtocolError("this attestation context already processed a msg2")
        if msg2.kdf_id != crypto.KDF_ID_SGX:
            raise RemoteProtocolError(f"msg2: unsupported kdf_id {msg2.kdf_id} (only 1)")
        keys = crypto.derive_session_keys(crypto.ecdh_shared_x_le(self._key, msg2.g_b, "g_b"))
        crypto.verify_gb_ga(self.sp_public_key_le, msg2.g_b, self._g_a, msg2.sign_gb_ga)
        crypto.verify_cmac(keys.smk, msg2.mac_covered_bytes(), msg2.mac, "msg2")
        quote = self.quote(crypto.report_data_binding(self._g_a, msg2.g_b, keys.vk), msg2)
        unsigned = Msg3(mac=bytes(16), g_a=self._g_a, ps_sec_prop=bytes(PS_SEC_PROP_SIZE), quote=quote)
        self._keys = keys
        return Msg3(crypto.aes_cmac(keys.smk, unsigned.mac_covered_bytes()), self._g_a, unsigned.ps_sec_prop, quote)

    def open_msg4(self, data: bytes) -> OpenedMsg4:
        """Check an authenticated msg4 and unseal its secret with keys that never leave the enclave."""
        if self._keys is None:
            raise LocalProtocolError("no session keys before msg2 is processed")
        return open_msg4(data, sk=self._keys.sk, mk=self._keys.mk)

    def get_keys(self) -> tuple[bytes, bytes]:
        if self._keys is None:
            raise LocalProtocolError("no session keys before msg2 is processed")
        return self._keys.sk, self._keys.mk


class SimEnclave(InProcessEnclave):
    """A simulated enclave: its report body says ``identity``, a simulated quoting enclave quotes it."""

    def __init__(
        self,
        quoting_enclave: QuotingEnclave,
        identity: EnclaveIdentity = EnclaveIdentity(),
        sp_public_key_le: bytes = SAMPLE_SP_PUBLIC_KEY_LE,
        *,
        ephemeral_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        super().__init__(sp_public_key_le, ephemeral_key=ephemeral_key)
        self.quoting_enclave = quoting_enclave
        self.identity = identity

    @property
    def gid(self) -> bytes:
        return self.quoting_enclave.gid

    def quote(self, report_data: bytes, msg2: Msg2) -> bytes:
        return self.quoting_enclave.get_quote(self.identity.report_body(report_data), msg2.quote_type, msg2.spid,
                                              msg2.sig_rl)
