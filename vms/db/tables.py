"""Every table of the schema, registered on one metadata (what migrations are compared with)."""

from __future__ import annotations

import vms.cluster.models  # noqa: F401  (registers applied_messages)
import vms.db.auth  # noqa: F401  (users, sessions, tokens, audit)
import vms.db.events  # noqa: F401
import vms.db.exports  # noqa: F401
import vms.db.layouts  # noqa: F401
import vms.db.searches  # noqa: F401  (motion searches)
from vms.db.models import Base

metadata = Base.metadata
