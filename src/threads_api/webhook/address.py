"""Where a webhook may be sent (contract §15): the URL's shape, and the addresses its host
resolves to, vetted each attempt so that a webhook cannot reach into the service's network.

The host is resolved once per attempt and the connection made to an address vetted here, so
a name that resolves to a public address when checked and a private one when connecting (DNS
rebinding) gets nowhere.
"""

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not public, though Python's `is_global` misses some in the versions we run on.
_REFUSED_V4 = [
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15",
              "224.0.0.0/4", "240.0.0.0/4")
]  # fmt: skip
_NAT64 = [ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48")]


class RefusedAddress(Exception):
    """The URL may not be sent to; the message says why, fit for the deliveries log."""


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL, taken apart for sending."""

    https: bool
    host: str  # as in the URL, for the Host header and TLS
    port: int
    path: str  # path and query, as sent in the request line

    @classmethod
    def of(cls, url: str) -> "Target":
        parts = urlsplit(url)
        https = parts.scheme == "https"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname or ""
        return cls(https, host, parts.port or (443 if https else 80), path)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.https else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str) -> str:
    """A URL a webhook can be sent to: http(s), a host, no credentials or fragment, printable
    ASCII only (an internationalised host goes in its xn-- form)."""
    if not re.fullmatch(r"[\x21-\x7e]+", url):
        raise ValueError("must be printable ASCII without spaces (punycode for other hosts)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("must name a host")
    if "@" in parts.netloc:
        raise ValueError("must not hold credentials (user:password@)")
    if parts.fragment or url.endswith("#"):
        raise ValueError("must not have a fragment")
    if parts.port == 0:
        raise ValueError("must not use port 0")
    literal = _literal_address(parts.hostname)
    if literal is None and not re.fullmatch(r"[A-Za-z0-9.\-_]+", parts.hostname):
        raise ValueError("has a host name that is not valid")
    return url


def without_query(url: str) -> str:
    """The URL as logs show it: a query string can carry a receiver's token."""
    return url.split("?", 1)[0]


def refusal(address: IpAddress) -> str | None:
    """Why `address` is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
        if not address.is_global or address.is_multicast:
            return "is not a public address"
        return None
    if any(address in net for net in _REFUSED_V4) or not address.is_global:
        return "is not a public address"
    return None


async def resolve(target: Target, *, allow_private: bool) -> list[IpAddress]:
    """The addresses to connect to, every one vetted; RefusedAddress when the name does not
    resolve, or any address it resolves to is not public (unless allowed)."""
    literal = _literal_address(target.host)
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            raise RefusedAddress(f"the host {target.host} does not resolve") from None
        found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not allow_private:
        for address in found:
            reason = refusal(address)
            if reason is not None:
                raise RefusedAddress(
                    f"{target.host} resolves to {address}, which {reason} "
                    "(THREADS_API_WEBHOOKS_ALLOW_PRIVATE=true allows it)"
                )
    if not found:
        raise RefusedAddress(f"the host {target.host} does not resolve")
    return found


def _literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
