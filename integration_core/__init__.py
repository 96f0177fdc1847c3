"""practice-sync's engine: hooks, plugins, settings, the store and durable events.

Plugin authors import from one module, :mod:`integration_core.api`; ``hookimpl`` is also
here, at the package root, for the shortest plugins::

    from integration_core import hookimpl
"""

import pluggy

from integration_core.hookspecs import PROJECT

__all__ = ["PROJECT", "__version__", "hookimpl"]
__version__ = "0.2.0"

hookimpl = pluggy.HookimplMarker(PROJECT)
