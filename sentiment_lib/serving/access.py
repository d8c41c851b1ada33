"""Who is calling: the client's own address (forwarding headers believed only from proxies the operator
lists) and whether it is on this host, and a per-client rate limit.

A reverse proxy on the same host connects from loopback for every visitor, so a loopback peer that
forwards for someone (any forwarding header) is not taken as local unless the operator named it a trusted
proxy; then the client is the nearest address in ``X-Forwarded-For`` that is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

# the request headers as Flask gives them (werkzeug Headers) or a plain mapping in tests: read by name only
Headers = Mapping[str, str] | Any
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host")


def is_loopback(address: str | None) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def client_address(peer: str | None, headers: Headers, trusted: frozenset[str]) -> str:
    """The peer itself, or, when the peer is a trusted proxy, the nearest untrusted ``X-Forwarded-For`` hop
    (a client's own made-up entries sit left of the one the proxy appended, and are never reached)."""
    peer = peer or ""
    if peer not in trusted:
        return peer
    hops = [hop.strip() for hop in headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return hops[0] if hops else peer


def client_is_local(peer: str | None, headers: Headers, trusted: frozenset[str]) -> bool:
    """The client is on this host: its address is loopback, and nobody untrusted forwarded it."""
    if (peer or "") not in trusted and any(name in headers for name in FORWARDING_HEADERS):
        return False
    return is_loopback(client_address(peer, headers, trusted))


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests a minute, bursts of up to ``burst``.

    At most ``max_clients`` buckets are kept (least recently used dropped), so a scan from many addresses
    cannot grow memory without bound; a dropped client starts again with a full bucket.
    """

    def __init__(self, per_minute: float, burst: int, max_clients: int = 10000, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> int:
        """0 if ``client`` may go on now (its token is taken); else the whole seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))
