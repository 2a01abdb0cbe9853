"""Test helpers that ship with the package: a fake OpenAI-compatible backend and a way to run any
ASGI app on a real loopback port. Used by semdns's own tests and benchmarks, and useful for testing a
zone's routing without a GPU."""

from semdns.testing.fake_openai import Behaviour, FakeOpenAI
from semdns.testing.servers import FakeInThread, RunningServer, serve_app

__all__ = ["Behaviour", "FakeInThread", "FakeOpenAI", "RunningServer", "serve_app"]
