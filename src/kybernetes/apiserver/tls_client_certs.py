"""Ask TLS clients for a certificate, accept any, judge it later: Go's RequestClientCert.

Kubernetes' API server requests a client certificate without verifying it in the
handshake; its x509 authenticator verifies the chain and answers a certificate
from another CA, or an expired one, with 401 Unauthorized. Python's ssl module
verifies during the handshake instead (``CERT_OPTIONAL`` still drops a connection
whose certificate does not check out), and offers no verify callback. OpenSSL has
one: :func:`request_any_client_cert` sets a callback that accepts every
certificate on the context's ``SSL_CTX`` through ctypes, so the handshake
completes and :mod:`.authn` verifies the certificate against the cluster CA.

The ``SSL_CTX`` pointer is the first field after the object header of CPython's
``PySSLContext``; it is checked against the context's verify mode and options
before use, and when anything does not match (another Python, a static OpenSSL)
the context is left verifying in the handshake, as before.
"""

from __future__ import annotations

import ctypes
import logging
import ssl
from typing import Any

log = logging.getLogger("kybernetes.apiserver.tls")

_SSL_VERIFY_PEER = 0x01
_VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _accept(preverify_ok: int, store_ctx: int | None) -> int:
    return 1


_ACCEPT = _VerifyCallback(_accept)  # kept alive for as long as contexts use it


def _libssl() -> Any:
    import _ssl  # its symbols resolve to the OpenSSL the ssl module uses

    lib = ctypes.CDLL(_ssl.__file__)
    lib.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VerifyCallback]
    lib.SSL_CTX_set_verify.restype = None
    lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
    lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_get_options.restype = ctypes.c_uint64
    return lib


def request_any_client_cert(ctx: ssl.SSLContext) -> bool:
    """Make a server context request a client certificate and accept whatever comes;
    False (the context unchanged but for CERT_OPTIONAL) when that cannot be done."""
    ctx.verify_mode = ssl.CERT_OPTIONAL
    try:
        lib = _libssl()
        pointer = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
        if not pointer or lib.SSL_CTX_get_verify_mode(pointer) != _SSL_VERIFY_PEER or \
                lib.SSL_CTX_get_options(pointer) != int(ctx.options):
            raise OSError("the SSL context is not laid out as expected")
        lib.SSL_CTX_set_verify(pointer, _SSL_VERIFY_PEER, _ACCEPT)
    except (OSError, AttributeError, ValueError) as e:
        log.warning("client certificates are verified in the TLS handshake: a foreign one "
                    "drops the connection instead of answering 401",
                    extra={"error": str(e)})
        return False
    return True
