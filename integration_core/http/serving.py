"""Serving an ASGI app until the process is asked to stop, then returning.

uvicorn shuts down gracefully on SIGINT or SIGTERM and then raises the signal again, to the
handler that was there before it — by default one that kills the process before anything
after ``uvicorn.run`` runs. With a no-op handler installed first, the call returns: the caller
closes what it holds (worker threads, adapters, databases) and the process exits 0, as a
service manager expects.
"""

from __future__ import annotations

import signal
from typing import Any

__all__ = ["serve_until_stopped"]


def serve_until_stopped(app: Any, *, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM; return once it has shut down."""
    import uvicorn

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None)
