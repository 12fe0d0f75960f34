"""The client address a request's anonymous rate limits count by.

X-Forwarded-For is read only when the request comes from a trusted proxy (TRUSTED_PROXIES): anyone else can
write anything in it. Read right to left, each proxy appends the address it saw, so the first address that
is not a trusted proxy is the client. An IPv6 client counts by its /64 network: one host usually holds a
whole /64 and could otherwise change address for every request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp import web

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# What a request without a peer address (a test's in-memory transport) counts as.
UNKNOWN_CLIENT = "unknown"


def trusted_networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def client_address(request: web.Request, proxies: tuple[Network, ...]) -> Address | None:
    """The client's address: the peer's, or behind trusted proxies the one they forwarded."""
    address = _address(request.remote)
    if address is None or not _trusted(address, proxies):
        return address
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        previous = _address(hop)
        if previous is None:
            break  # a garbled entry: trust nothing further left, the last proxy's peer stands
        address = previous
        if not _trusted(address, proxies):
            break
    return address


def client_key(request: web.Request, proxies: tuple[Network, ...]) -> str:
    """The rate-limit key of the client's address (its /64 for IPv6)."""
    address = client_address(request, proxies)
    if address is None:
        return UNKNOWN_CLIENT
    if isinstance(address, IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, IPv6Address) else address)
