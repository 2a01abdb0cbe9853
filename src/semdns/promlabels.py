"""Labelled Prometheus metrics with their children cached: the request path's counters cost a dict
lookup instead of ``labels()``'s validation, tuple building and lock (about 3 µs each, several per
request; measured with cProfile under load, see docs/gateway.md)."""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)


class CachedLabels(Generic[M]):
    """``metric.labels(*values)`` remembered per label values (the label sets of a gateway are few:
    names × stages × statuses). Only positional label values, as the request path passes them."""

    __slots__ = ("_children", "metric")

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def labels(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child

    def remove(self, *values: str) -> None:
        self._children.pop(values, None)
        self.metric.remove(*values)
