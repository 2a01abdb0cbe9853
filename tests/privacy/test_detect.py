"""The detector: each kind on its documented formats, the checks that keep look-alikes out, overlaps,
masking and restoring, and malformed input."""

from __future__ import annotations

import pytest

from semdns.errors import PersonalDataRefused
from semdns.privacy import Masking, PrivacySpec, apply_policy, detect, redact, restore_json, strictest
from semdns.privacy.checks import card_ok, es_dni_ok, iban_ok, luhn_ok, us_ssn_ok


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("mail a.b-c+tag@sub.example.co.uk now", [("email", "a.b-c+tag@sub.example.co.uk")]),
        ("card 4111 1111 1111 1111.", [("card", "4111 1111 1111 1111")]),
        ("amex 3782-822463-10005", [("card", "3782-822463-10005")]),
        ("mc 5555555555554444", [("card", "5555555555554444")]),
        ("iban GB82 WEST 1234 5698 7654 32", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        ("iban DE89370400440532013000", [("iban", "DE89370400440532013000")]),
        ("ssn 078-05-1120", [("national_id", "078-05-1120")]),
        ("nino AB 12 34 56 C", [("national_id", "AB 12 34 56 C")]),
        ("dni X1234567L", [("national_id", "X1234567L")]),
        ("host 10.0.0.254", [("ip", "10.0.0.254")]),
        (
            "v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok",
            [("ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334")],
        ),
        ("call (415) 555-2671", [("phone", "(415) 555-2671")]),
        ("call +44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
        ("call 0033 1 23 45 67 89", [("phone", "0033 1 23 45 67 89")]),
        ("call 415-555-2671 x204", [("phone", "415-555-2671 x204")]),
    ],
)
def test_each_kind(text: str, found: list[tuple[str, str]]) -> None:
    assert kinds(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "order 1234567812345678",  # Luhn fails
        "iban DE89 3704 0044 0532 0130 01",  # mod 97 fails
        "iban XX89370400440532013000",  # no such country
        "ssn 000-12-3456 or 666-12-3456 or 900-12-3456 or 123-00-4567",  # SSA rules
        "nino QQ 12 34 56 C",  # Q is never a NINO prefix letter (the documentation example)
        "dni 12345678A",  # wrong check letter
        "version 1.2.3 and 999.1.1.1 and Ver3.8.8.3",
        "dated 2021-05-12 or 12/05/2021; 10 000 000 units; year 1999",
        "the point (4.8359)--(9.6317) on the plot",
        "time 10:30:00 and ratio 3:2",
        "",
        "    ",
    ],
)
def test_look_alikes_are_not_personal_data(text: str) -> None:
    assert detect(text) == []


def test_overlaps_go_to_the_most_specific_kind() -> None:
    # A card number is also a long digit run a phone pattern could take.
    assert kinds("4111-1111-1111-1111") == [("card", "4111-1111-1111-1111")]
    # An e-mail address whose local part looks like a phone number stays one e-mail.
    assert kinds("0612-345-678@example.com") == [("email", "0612-345-678@example.com")]


def test_checks() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert card_ok("4012888888881881") and not card_ok("1234567890123452")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST1234569876543")
    assert us_ssn_ok("078", "05", "1120") and not us_ssn_ok("078", "05", "0000")
    assert es_dni_ok("12345678", "Z") and es_dni_ok("X1234567", "L") and not es_dni_ok("12345678", "A")


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01 4111111111111111 \udcff",
        "🙂" * 1000 + " a@b.io",
        "1" * 100_000,
        "-" * 50_000 + "1",
        "@" * 10_000,
    ],
)
def test_odd_input_neither_crashes_nor_hangs(text: str) -> None:
    import time

    started = time.perf_counter()
    detect(text)
    assert time.perf_counter() - started < 2.0


def test_masking_is_consistent_and_restores_only_its_own_placeholders() -> None:
    masking = Masking()
    text = "a@b.io then 4111 1111 1111 1111 then a@b.io again"
    masked = masking.mask(text, detect(text))
    assert masked == "[EMAIL_1] then [CARD_1] then [EMAIL_1] again"
    assert (
        masking.restore("[CARD_1] and [CARD_2] and [EMAIL_1]")
        == "4111 1111 1111 1111 and [CARD_2] and a@b.io"
    )
    assert masking.summary() == {"card": 1, "email": 1}
    assert detect(masked) == []  # placeholders are not personal data: masking twice is harmless


def test_apply_policy_covers_every_text_a_model_reads() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "agent for a@b.io"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "card 4111111111111111"}, {"type": "image_url"}],
            },
            {"role": "assistant", "content": None},
            "not a message",
        ]
    }
    masked, masking = apply_policy(PrivacySpec(action="mask"), body, "chat")
    assert masking is not None
    assert masked["messages"][0]["content"] == "agent for [EMAIL_1]"
    assert masked["messages"][1]["content"][0]["text"] == "card [CARD_1]"
    assert masked["messages"][2:] == body["messages"][2:]
    assert body["messages"][0]["content"] == "agent for a@b.io"  # the original is untouched
    calls = {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "1",
                        "type": "function",
                        "function": {"name": "mail", "arguments": '{"to": "a@b.io"}'},
                    },
                    "junk",
                    {"id": "2", "function": "junk"},
                ],
                "function_call": {"name": "mail", "arguments": '{"to": "a@b.io"}'},
            }
        ]
    }
    masked_calls, m3 = apply_policy(PrivacySpec(action="mask"), calls, "chat")
    assert m3 is not None
    message = masked_calls["messages"][0]
    assert message["tool_calls"][0]["function"]["arguments"] == '{"to": "[EMAIL_1]"}'
    assert message["tool_calls"][1:] == ["junk", {"id": "2", "function": "junk"}]
    assert message["function_call"]["arguments"] == '{"to": "[EMAIL_1]"}'
    prompts, m2 = apply_policy(PrivacySpec(action="mask"), {"prompt": ["x 10.1.2.3", 7]}, "completion")
    assert m2 is not None and prompts["prompt"] == ["x [IP_1]", 7]
    with pytest.raises(PersonalDataRefused, match=r"card \(1\)"):
        apply_policy(PrivacySpec(action="refuse"), body, "chat")
    same, none = apply_policy(
        PrivacySpec(action="mask"), {"messages": [{"role": "user", "content": "hi"}]}, "chat"
    )
    assert none is None and same["messages"][0]["content"] == "hi"


def test_restore_json_and_redact() -> None:
    masking = Masking()
    masking.mask("a@b.io", detect("a@b.io"))
    result = {"choices": [{"message": {"content": "to [EMAIL_1]"}}, {"text": "[EMAIL_1]"}, "junk"], "id": "x"}
    assert restore_json(result, masking)["choices"] == [
        {"message": {"content": "to a@b.io"}},
        {"text": "a@b.io"},
        "junk",
    ]
    assert redact("write to a@b.io from 10.0.0.1") == "write to [EMAIL_1] from [IP_1]"


def test_strictest() -> None:
    a = PrivacySpec(action="mask", detectors=("card",))
    b = PrivacySpec(action="refuse", detectors=("email",), restore=False)
    both = strictest([a, b, PrivacySpec()])
    assert both.action == "refuse" and both.detectors == ("card", "email") and not both.restore
    assert strictest([]).action == "pass"
