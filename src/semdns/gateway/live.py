"""The generation in service: one runtime with the handlers bound to it, swapped whole by a reload.

The app's routes are trampolines that read :attr:`Live.current` once when a request arrives and run
the whole request on that generation's handlers, so a reload (one assignment, between two requests'
steps) never mixes an old tree with a new dispatcher: requests in flight finish on the generation
they started on. Each generation counts its requests in flight, so the old one's resources can be
released once it has drained.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from semdns.gateway.admin import AdminRoutes
from semdns.gateway.embeddings_api import EmbeddingRoutes
from semdns.gateway.openai_api import OpenAIRoutes
from semdns.gateway.responses_api import ResponsesRoute
from semdns.gateway.runtime import Runtime

Endpoint = Callable[[Request], Awaitable[Response]]
ExtraRoutes = Callable[[Runtime], Sequence[Route]]
"""Builds a generation's extra routes (``semdns serve``: the resolver protocol over its tree)."""


class Generation:
    """A runtime and its route handlers; ``inflight`` counts the requests running on it."""

    def __init__(self, runtime: Runtime, number: int, extra: ExtraRoutes | None) -> None:
        self.runtime = runtime
        self.number = number
        self.api = OpenAIRoutes(runtime)
        self.admin = AdminRoutes(runtime)
        self.embeddings = EmbeddingRoutes(runtime)
        self.responses = ResponsesRoute(self.api.chat_completions, runtime.settings)
        self.extra: list[Route] = list(extra(runtime)) if extra is not None else []
        self.inflight = 0


class Live:
    """Holds the generation in service (``current``) and builds the next one."""

    def __init__(self, runtime: Runtime, extra: ExtraRoutes | None = None) -> None:
        self._extra = extra
        self.current = Generation(runtime, 1, extra)

    def prepare(self, runtime: Runtime) -> Generation:
        """The next generation over ``runtime``, not yet in service (its extra routes may raise)."""
        return Generation(runtime, self.current.number + 1, self._extra)

    def swap(self, generation: Generation) -> Generation:
        """Put ``generation`` in service (atomic: one assignment); return the one it replaced."""
        old, self.current = self.current, generation
        return old

    def endpoint(self, pick: Callable[[Generation], Endpoint], *, traced: bool = False) -> Endpoint:
        """A route endpoint that runs the request on the generation current when it arrived
        (``traced``: inside a request span, when tracing is on)."""

        async def call(request: Request) -> Response:
            generation = self.current
            generation.inflight += 1
            try:
                tracing = generation.runtime.tracing
                if traced and tracing is not None:
                    return await tracing.serve(request, pick(generation))
                return await pick(generation)(request)
            finally:
                generation.inflight -= 1

        return call

    def extra_endpoint(self, index: int) -> Endpoint:
        """The trampoline for the ``index``-th extra route (every generation lists the same routes)."""

        def pick(generation: Generation) -> Endpoint:
            endpoint: Endpoint = generation.extra[index].endpoint
            return endpoint

        return self.endpoint(pick)
