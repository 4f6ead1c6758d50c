"""Logging set-up: every record passes through filters that hide URL credentials and escape control characters."""

from __future__ import annotations

import logging

from vms.cameras.rtsp_url import mask_credentials

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each could start a
# forged log line or drive a terminal. Escaped the way Python writes them in a string literal.
_ESCAPES = {
    code: _NAMED.get(chr(code), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
}


def escape_control(text: str) -> str:
    """``text`` with every control character written as its escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return text.translate(_ESCAPES)


class MaskCredentials(logging.Filter):
    """Rewrites each record so that no ``scheme://user:pass@`` survives, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class EscapeControlCharacters(logging.Filter):
    """One record, one line: user input carried in a message (a username with a newline) cannot
    forge another entry (OWASP log injection, ASVS 7.3.1). Tracebacks keep their lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape_control(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at ``level`` with credentials masked out of every message."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskCredentials())
    handler.addFilter(EscapeControlCharacters())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FFmpeg's own messages are noisy and may echo URLs; keep them to errors, masked like the rest.
    logging.getLogger("libav").setLevel(logging.ERROR)
    # Alembic narrates every start ("Context impl ..."); vms.db.migrate logs the upgrades that happen.
    logging.getLogger("alembic").setLevel(logging.WARNING)
