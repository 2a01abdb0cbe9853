"""Personal data in prompts: detection (:mod:`.detect`), the per-name policy and masking
(:mod:`.policy`), and the detector's evaluation (:mod:`.evaluate`)."""

from semdns.privacy.detect import KINDS, Finding, detect
from semdns.privacy.policy import Masking, PrivacySpec, apply_policy, restore_json, strictest

__all__ = [
    "KINDS",
    "Finding",
    "Masking",
    "PrivacySpec",
    "apply_policy",
    "detect",
    "redact",
    "restore_json",
    "strictest",
]


def redact(text: str) -> str:
    """``text`` with every kind of personal data replaced by its placeholder: for log lines, span
    attributes and console feeds that must show a prompt."""
    masking = Masking()
    return masking.mask(text, detect(text))
