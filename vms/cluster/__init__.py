"""Scale-out: which worker records which camera (Redis leases), and the workers' presence.

Importing this package is cheap (no Redis client); the modules that need Redis import it.
"""
