"""RTSP authentication: Basic and Digest (RFC 2617, MD5, qop ``auth`` or none), as cameras use."""

from __future__ import annotations

import base64
import hashlib
import os
import re

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


class AuthUnsupported(Exception):
    """The server asks for a scheme this client does not speak (FFmpeg takes over)."""


def _challenges(header: str) -> dict[str, dict[str, str]]:
    """``WWW-Authenticate`` (several challenges may be joined by ``, ``) by scheme, lower case."""
    marks = list(re.finditer(r"(?:^|,\s*)(Basic|Digest)\s", header, re.IGNORECASE))
    found: dict[str, dict[str, str]] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(header)
        params = {key.lower(): quoted or bare for key, quoted, bare in _PARAM.findall(header[mark.end():end])}
        found.setdefault(mark.group(1).lower(), params)
    return found


class Credentials:
    """Answers a server's 401 challenge for every later request of the session."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._scheme: str | None = None
        self._params: dict[str, str] = {}
        self._count = 0

    @property
    def ready(self) -> bool:
        return self._scheme is not None

    def challenge(self, www_authenticate: str) -> None:
        """Take the server's challenge; Digest is preferred when both are offered.

        Raises AuthUnsupported when neither Basic nor Digest (MD5) is offered.
        """
        offered = _challenges(www_authenticate)
        digest = offered.get("digest")
        if digest is not None and digest.get("algorithm", "MD5").upper() == "MD5" and "nonce" in digest:
            self._scheme, self._params, self._count = "digest", digest, 0
        elif "basic" in offered:
            self._scheme, self._params = "basic", offered["basic"]
        else:
            raise AuthUnsupported(f"unsupported RTSP authentication: {www_authenticate[:80]!r}")

    def header(self, method: str, uri: str) -> str | None:
        """The ``Authorization`` value for one request, or None before any challenge."""
        if self._scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        if self._scheme != "digest":
            return None
        realm, nonce = self._params.get("realm", ""), self._params["nonce"]
        ha1 = _md5(f"{self.username}:{realm}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        fields = [f'username="{self.username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        qops = [q.strip() for q in self._params.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._count += 1
            nc, cnonce = f"{self._count:08x}", os.urandom(8).hex()
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in self._params:
            fields.append(f'opaque="{self._params["opaque"]}"')
        return "Digest " + ", ".join(fields)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
