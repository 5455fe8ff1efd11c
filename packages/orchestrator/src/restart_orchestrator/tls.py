"""One TLS context for every HTTP client restartctl makes.

httpx builds a new ``ssl.SSLContext`` (loading the CA bundle) for each client
unless it is given one: 30-70 ms with the event loop blocked, per client, even
for plain-http URLs. A run makes clients per service and per process check, so
a 50-service fleet would spend seconds in it.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle, ``SSL_CERT_FILE``), built once."""
    return httpx.create_ssl_context()
