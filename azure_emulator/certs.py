"""A CA made for this run, and leaf certificates for each host the emulator answers for."""
from __future__ import annotations

import os
import ssl
import threading

import trustme


class Certificates:
    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.ca = trustme.CA(organization_name="azure-emulator", organization_unit_name="local Azure emulator CA (this run only)")
        self.ca_path = os.path.join(directory, "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_path)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server context whose certificate names `host` (and, for direct calls, the loopback names)."""
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                names = [host] if host not in ("127.0.0.1", "localhost") else ["127.0.0.1", "localhost", "::1"]
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.set_alpn_protocols(["http/1.1"])
                self.ca.issue_cert(*names).configure_cert(ctx)
                self._contexts[host] = ctx
            return ctx
