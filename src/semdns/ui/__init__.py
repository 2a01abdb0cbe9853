"""``semdns serve``'s web console at ``/ui``: the namespace, its decisions and its health, live.

Plain HTML, CSS and JavaScript shipped in this package (``static/``): no CDN, no build step. The
routes (:mod:`.routes`) read what the runtime already knows; the live feed (:mod:`.feed`) costs the
request path one attribute test when nobody watches. Access rules are in :mod:`.access`.

Import :mod:`semdns.ui.routes` directly (this package imports nothing, so that the gateway can import
:mod:`.feed` without a cycle).
"""
