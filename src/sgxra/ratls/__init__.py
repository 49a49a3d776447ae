"""RA-TLS: attestation evidence in X.509 certificates (TCG DICE, Gramine, Intel SGX SDK, sgx-ra-tls).

``extract`` finds and binds the evidence, ``verify_certificate`` checks it is
genuine and judges it (the same ``DcapResult``/``IasResult`` as ``sgxra.verify``,
the certificate's evidence as its ``envelope``), ``connect``/``client_context``/``AttestedTransport``
verify a server on the same connection before sending, and
``sgxra.ratls.secret_prov`` (pyOpenSSL, the ``ratls`` extra) serves Gramine's
secret provisioning protocol.
"""

from sgxra.ratls.binding import Binding
from sgxra.ratls.connect import AttestedSocket, AttestedTransport, client_context, connect
from sgxra.ratls.der import RaTlsCertificate, load_certificate
from sgxra.ratls.evidence import Format, NotAttested, RaTlsEvidence, extract
from sgxra.ratls.verify import KeyNotBound, RaTlsVerifier, ratls_evidence, verify_certificate

__all__ = [
    "AttestedSocket", "AttestedTransport", "Binding", "Format", "KeyNotBound", "NotAttested", "RaTlsCertificate",
    "RaTlsEvidence", "RaTlsVerifier", "client_context", "connect", "extract", "load_certificate", "ratls_evidence",
    "verify_certificate",
]
