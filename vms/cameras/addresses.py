"""May a camera URL point there? The allow/deny policy of camera addresses (SSRF defence).

Checked when a camera is registered, changed or probed. The URL's host is resolved the way
the network stack will resolve it (``getaddrinfo``), so spellings such as ``0x7f000001``,
``2130706433``, ``127.1`` or ``localhost`` are judged by the address they mean. A name that
does not resolve is let through (nothing can be reached through it now) and judged again at
every probe.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from vms.config import Settings
from vms.config.security import CameraAddressConfig
from vms.errors import CodedError

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


class CameraAddressRefused(CodedError):
    """The URL points at an address cameras may not have; the message says which rule, the code
    is own-service (``address``, ``port``) or denied (``address``, ``network``)."""


@dataclass(frozen=True)
class CameraAddressPolicy:
    config: CameraAddressConfig
    # (address, port) of vms's own services: never a camera, whatever ``allow`` says.
    services: frozenset[tuple[str, int]] = frozenset()

    def check_url(self, url: str) -> None:
        """Raise CameraAddressRefused unless every address ``url``'s host resolves to is allowed."""
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            return  # the URL's own validation reports a missing host
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 554)
        except ValueError:
            return  # likewise for a bad port
        for address in resolve(host):
            self.check_address(address, port, host)

    def check_address(self, address: str, port: int, host: str = "") -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        shown = f"{host} ({ip})" if host and host != str(ip) else str(ip)
        if (str(ip), port) in self.services:
            raise CameraAddressRefused(f"{shown}:{port} is one of vms's own services, not a camera", "own-service",
                                       address=shown, port=port)
        if any(ip in network for network in self.config.allow if network.version == ip.version):
            return
        for network in self.config.deny:
            if network.version == ip.version and ip in network:
                raise CameraAddressRefused(
                    f"cameras may not be at {shown}: {network} is denied (security.camera_addresses)", "denied",
                    address=shown, network=str(network),
                )


def resolve(host: str) -> list[str]:
    """The addresses ``host`` stands for; [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _endpoint(url: str | None, default_port: int) -> list[tuple[str, int]]:
    if not url:
        return []
    parts = urlsplit(url)
    if not parts.hostname:
        return []
    try:
        port = parts.port or default_port
    except ValueError:
        return []
    return [(address, port) for address in resolve(parts.hostname)]


def policy_of(settings: Settings, config: CameraAddressConfig | None = None) -> CameraAddressPolicy:
    """The policy of ``settings`` (or ``config``) plus the endpoints of the settings' own services."""
    config = config or settings.security.camera_addresses
    services: set[tuple[str, int]] = set()
    services.update(_endpoint(settings.redis_url, 6379))
    services.update(_endpoint(settings.database_url, 5432))
    services.update(_endpoint(f"http://{settings.http.host}:{settings.http.port}", settings.http.port))
    for endpoint in config.deny_services:
        services.update(_endpoint(f"tcp://{endpoint}", 0))
    # A service bound to every address (0.0.0.0) is reachable on loopback too.
    for address, port in list(services):
        if address in ("0.0.0.0", "::"):
            services.update({("127.0.0.1", port), ("::1", port)})
    return CameraAddressPolicy(config, frozenset(services))
