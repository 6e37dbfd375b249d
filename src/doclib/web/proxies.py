"""Who the client is behind reverse proxies.

``X-Forwarded-For``, ``-Proto`` and ``-Host`` are honoured (through
Werkzeug's ProxyFix, ``web.trusted_proxies`` hops) only on requests whose
immediate peer is one of ``web.proxy_addresses``; from anyone else they are
ignored, so a client cannot pick the address the login throttle counts or
claim HTTPS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """WSGI middleware: ProxyFix for requests from a trusted proxy, the
    plain application for everyone else."""

    def __init__(self, app: Callable[..., Any], hops: int, proxies: Iterable[Network]) -> None:
        self.app = app
        self.proxied = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)
        self.proxies = tuple(proxies)

    def from_proxy(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").strip())
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.proxies)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.from_proxy(environ.get("REMOTE_ADDR")):
            return self.proxied(environ, start_response)
        return self.app(environ, start_response)
