"""Ending a worker process once its orderly stop is done, without the interpreter's own teardown.

After ``Runtime.stop`` has returned, every pipeline has stopped, every recorder has closed and
indexed its last segment, the index buffer has been flushed (what the database refused is in the
fsynced journal as well) and the bus and database are closed. What a normal exit still does
then is Python's finalization: ``finalize_modules`` runs full garbage collections over the whole
heap (PyAV, OpenCV, numpy, SQLAlchemy and every camera's objects) and tears the modules down.
It writes nothing, and it took 0.8 s of a lone 4-camera worker's exit and 1.8-3.2 s of a
24-camera one's on a quiet machine (gdb: the main thread in ``gc_collect_main`` under
``Py_FinalizeEx``; decision 167). ``os._exit`` skips it, but only when nothing is left that a
normal exit would still wait for or write: no index operation pending, no non-daemon thread
alive (``threading._shutdown`` would join it), and the log handlers and standard streams flushed
first. Otherwise the process exits the normal way.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def leave_now(index_pending: int, code: int = 0) -> None:
    """``os._exit(code)`` after flushing logs and standard streams, when ``index_pending`` is 0
    and no other non-daemon thread runs; otherwise return (the caller exits normally)."""
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if index_pending or others:
        log.info("exiting the normal way: %d index operations pending, threads still running: %s",
                 index_pending, ", ".join(others) or "none")
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream: nothing more can be written to it anyway
    os._exit(code)
