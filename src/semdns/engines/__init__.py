"""Engines: who answers a request once its name is resolved.

``Engine`` is the protocol every backend implements; :mod:`.openai_http` speaks to any
OpenAI-compatible server, :mod:`.local` runs the embedded SmolLM2 model; :mod:`.pool`, :mod:`.breaker`,
:mod:`.health` and :mod:`.budget` turn a name's replicas into one dependable target.
"""

from semdns.engines.protocol import Engine, EngineCall

__all__ = ["Engine", "EngineCall"]
