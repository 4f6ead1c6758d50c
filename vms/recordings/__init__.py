"""Recordings on disk and their index: segment bookkeeping, crash repair, retention."""
