"""RAP aggregation: order, confidence, and conflict notes."""

from __future__ import annotations

from semdns.protocol.messages import PartialResult, WireError
from semdns.protocol.rap import aggregate


def test_aggregate_orders_by_confidence_and_names_sources() -> None:
    result = aggregate(
        [
            PartialResult(name="medical.", content="Malpractice needs a duty of care.", confidence=0.6),
            PartialResult(
                name="legal.", content="Malpractice claims need a duty of care and harm.", confidence=0.9
            ),
        ],
        id="q1",
    )
    assert result.content.startswith("[legal.]")
    assert "[medical.]" in result.content
    assert 0.6 < result.confidence <= 0.9
    assert not result.degraded and result.conflicts == []


def test_failed_and_divergent_parts_are_noted() -> None:
    result = aggregate(
        [
            PartialResult(
                name="legal.", content="Sue the manufacturer under product liability law.", confidence=0.9
            ),
            PartialResult(
                name="code.", content="Patch firmware buffer overflow immediately.", confidence=0.8
            ),
            PartialResult(name="medical.", error=WireError(code="upstream_timeout"), latency_ms=3000),
        ],
        id="q2",
    )
    kinds = {c.kind: c for c in result.conflicts}
    assert kinds["missing"].names == ["medical."]
    assert "upstream_timeout" in kinds["missing"].note
    assert kinds["divergent"].names == ["legal.", "code."]
    assert result.degraded
    assert result.latency_ms == 3000


def test_single_part_is_passed_through() -> None:
    result = aggregate([PartialResult(name="legal.", content="Yes.", confidence=0.7)], id="q3")
    assert result.content == "Yes."
    assert result.confidence == 0.7
