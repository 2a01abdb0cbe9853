"""The resolver: stages (keyword, embedding, classifier), the encoder, the descent and its cache."""

from semdns.resolve.cache import DecisionCache
from semdns.resolve.decision import Answer, LevelTrace, RoutingDecision, Score
from semdns.resolve.encoder import Encoder, MiniLMEncoder
from semdns.resolve.resolver import Resolver

__all__ = [
    "Answer",
    "DecisionCache",
    "Encoder",
    "LevelTrace",
    "MiniLMEncoder",
    "Resolver",
    "RoutingDecision",
    "Score",
]
