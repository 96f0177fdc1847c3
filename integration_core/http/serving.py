"""Serving an ASGI app until the process is asked to stop, then returning.

uvicorn shuts down gracefully on SIGINT or SIGTERM and then raises the signal again, to the
handler that was there before it — by default one that kills the process before anything
after ``uvicorn.run`` runs. With a no-op handler installed first, the call returns: the caller
closes what it holds (worker threads, adapters, databases) and the process exits 0, as a
service manager expects.

Who the client is: uvicorn, left to itself, believes ``X-Forwarded-For`` from loopback (or
from ``FORWARDED_ALLOW_IPS`` in the environment). Here it believes it only from the proxies
named in ``http.forwarded_allow_ips`` (read from the settings of an app
:func:`~integration_core.http.app.create_app` built, or given), and with none it ignores the
header: the client is the connection's peer, and cannot name itself a fresh rate-limit bucket.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

__all__ = ["serve_until_stopped", "trusted_proxies", "uvicorn_options"]


def uvicorn_options(
    *, host: str, port: int, forwarded_allow_ips: Sequence[str] = ()
) -> dict[str, Any]:
    """uvicorn's keyword arguments (for ``uvicorn.run`` or ``uvicorn.Config``): no access log
    (it prints query strings), our logging, and proxy headers trusted from
    ``forwarded_allow_ips`` only — from no one when it is empty."""
    trusted = list(forwarded_allow_ips)
    return {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": None,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
    }


def trusted_proxies(app: Any) -> Sequence[str]:
    """``http.forwarded_allow_ips`` of the engine's app (its runtime's settings); none for any
    other app, such as the sandbox EHR's."""
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    settings = getattr(runtime, "settings", None)
    return list(settings.http.forwarded_allow_ips) if settings is not None else []


def serve_until_stopped(
    app: Any, *, host: str, port: int, forwarded_allow_ips: Sequence[str] | None = None
) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM; return once it has shut down.
    ``X-Forwarded-For`` names the client only on connections from ``forwarded_allow_ips``
    (default: :func:`trusted_proxies` of ``app``)."""
    import uvicorn

    if forwarded_allow_ips is None:
        forwarded_allow_ips = trusted_proxies(app)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(
        app, **uvicorn_options(host=host, port=port, forwarded_allow_ips=forwarded_allow_ips)
    )
