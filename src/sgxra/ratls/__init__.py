"""RA-TLS: attestation evidence in X.509 certificates (TCG DICE, Gramine, Intel SGX SDK, sgx-ra-tls).

``extract`` finds and binds the evidence, ``verify_certificate`` checks it is
genuine and acceptable, ``connect``/``client_context``/``AttestedTransport``
verify a server on the same connection before sending, and
``sgxra.ratls.secret_prov`` (pyOpenSSL, the ``ratls`` extra) serves Gramine's
secret provisioning protocol.
"""

from sgxra.ratls.binding import Binding
from sgxra.ratls.connect import AttestedSocket, AttestedTransport, client_context, connect
from sgxra.ratls.der import RaTlsCertificate, load_certificate
from sgxra.ratls.evidence import Format, NotAttested, RaTlsEvidence, extract
from sgxra.ratls.policy import TdxPolicy
from sgxra.ratls.verify import KeyNotBound, RaTlsResult, RaTlsVerifier, verify_certificate

__all__ = [
    "AttestedSocket", "AttestedTransport", "Binding", "Format", "KeyNotBound", "NotAttested", "RaTlsCertificate",
    "RaTlsEvidence", "RaTlsResult", "RaTlsVerifier", "TdxPolicy", "client_context", "connect", "extract",
    "load_certificate", "verify_certificate",
]
