"""vms: the domain, storage and API of a camera command-centre video monitoring system."""

__version__ = "0.1.0"
