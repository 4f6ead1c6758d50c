"""The message bus shared by API and workers; in-process by default, Redis for many hosts."""

from vms.bus.base import Bus, bus_from_url

__all__ = ["Bus", "bus_from_url"]
