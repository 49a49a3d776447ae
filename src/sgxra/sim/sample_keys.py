"""The service-provider key pair Intel's sgx-ra-sample publishes.

Little-endian, as sgx_ec256_private_t / sgx_ec256_public_t hold them. Anyone
can impersonate a service provider that uses this key: it exists so our client
interoperates with Intel's sample, and for demos.
"""

from __future__ import annotations

SAMPLE_SP_PRIVATE_KEY_LE = bytes.fromhex("90e76cbb2d52a1ce3b66de11439c87ec1f866a3b65b6aeeaad573453d1038c01")
SAMPLE_SP_PUBLIC_KEY_LE = bytes.fromhex(
    "72128a7a17526ebf85d03a623730aead3e3daaee9c60731db05be8621c4beb38"
    "d48140d950e2577b26eeb741e7c614e224b7bdc903f29a28a83cc81011145e06"
)
