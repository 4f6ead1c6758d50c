"""Validation, credential handling and masking of camera RTSP URLs.

Camera URLs are handed to FFmpeg, which understands far more than RTSP (``file:``,
``concat:``, ``subfile:``, pipes, ...). Only plain ``rtsp://`` / ``rtsps://`` URLs to a host
are accepted, and credentials travel apart from the URL so that a URL can be logged.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from vms.errors import CodedError

ALLOWED_SCHEMES = ("rtsp", "rtsps")
MASK = "***"

# Control characters and whitespace would let a URL smuggle extra FFmpeg options or
# protocol prefixes; RTSP URLs never need them.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


class InvalidCameraUrl(CodedError):
    """A camera URL that vms refuses to open, with the reason in plain words and as a code:
    empty, bad-characters, option-like, bad-scheme (``scheme``), no-host, credentials-in-url,
    bad-port, port-zero, pipe."""


def validate_rtsp_url(url: str) -> str:
    """Return ``url`` unchanged if it is a credential-free RTSP URL to a host, else raise."""
    if not isinstance(url, str) or not url:
        raise InvalidCameraUrl("camera URL is empty", "empty")
    if _FORBIDDEN.search(url):
        raise InvalidCameraUrl("camera URL contains spaces, control characters or backslashes", "bad-characters")
    if url.startswith("-"):
        raise InvalidCameraUrl("camera URL must not start with '-' (it would be read as an option)", "option-like")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise InvalidCameraUrl(
            f"camera URL must start with rtsp:// or rtsps:// (got {shown}); "
            "files, pipes and other FFmpeg protocols are not cameras", "bad-scheme", scheme=scheme or "-",
        )
    if not parts.netloc or not parts.hostname:
        raise InvalidCameraUrl("camera URL has no host (expected rtsp://host[:port]/path)", "no-host")
    if parts.username is not None or parts.password is not None:
        raise InvalidCameraUrl(
            "camera URL contains credentials; give them as the camera's username and password "
            "so they are stored apart and never shown", "credentials-in-url",
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidCameraUrl(f"camera URL has an invalid port: {exc}", "bad-port") from None
    if port == 0:
        raise InvalidCameraUrl("camera URL has port 0", "port-zero")
    if "|" in url:
        raise InvalidCameraUrl("camera URL contains '|'", "pipe")
    return url


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split ``rtsp://user:pass@host/path`` into the bare URL, username and password.

    Lets a technician paste the URL a camera's manual prints while vms still stores
    the credentials apart.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, username, password


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Put credentials into a validated URL for the RTSP client; never log the result."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def mask_credentials(text: str, *secrets: str | None) -> str:
    """Hide userinfo of any URL in ``text`` and every given secret (in plain and URL-quoted form).

    A secret is masked only as a whole token, never inside a longer word: with the username
    ``cam`` the message "check the camera's username" stays readable.
    """
    masked = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    for secret in secrets:
        if secret:
            for form in sorted({secret, quote(secret, safe="")}, key=len, reverse=True):
                masked = re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", MASK, masked)
    return masked
