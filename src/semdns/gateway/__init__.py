"""The OpenAI-compatible gateway: ``semdns serve``.

``Runtime.build(tree, resolver, settings)`` assembles pools, dispatcher and metrics;
``create_app(runtime)`` is the ASGI app.
"""

from semdns.gateway.app import create_app
from semdns.gateway.runtime import Runtime
from semdns.gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "Runtime", "create_app"]
