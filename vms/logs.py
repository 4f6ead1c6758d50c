"""Logging set-up: every record passes through a filter that hides URL credentials."""

from __future__ import annotations

import logging

from vms.cameras.rtsp_url import mask_credentials


class MaskCredentials(logging.Filter):
    """Rewrites each record so that no ``scheme://user:pass@`` survives, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at ``level`` with credentials masked out of every message."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskCredentials())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FFmpeg's own messages are noisy and may echo URLs; keep them to errors, masked like the rest.
    logging.getLogger("libav").setLevel(logging.ERROR)
    # Alembic narrates every start ("Context impl ..."); vms.db.migrate logs the upgrades that happen.
    logging.getLogger("alembic").setLevel(logging.WARNING)
