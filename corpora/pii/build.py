"""Build corpora/pii/eval.jsonl: Presidio's public sentence templates, filled with synthetic values.

The templates (``presidio-templates.txt``) are ``presidio_evaluator/data_generator/raw_data/
templates.txt`` from the PyPI package ``presidio-evaluator==0.3.2`` (MIT, see PRESIDIO-LICENSE):
209 customer-service and chat sentences written by the Presidio authors with ``{{slot}}``
placeholders. Each template is filled ``--per-template`` times with values generated here from the
documented formats (every value is synthetic: no real person's data). Slots of the six kinds semdns
detects become labelled spans; every other slot (names, addresses, dates, ages, zip codes...) is filled
too and stays unlabelled, so a detector that flags it pays in precision. Person-name slots are also
listed under ``out_of_scope`` (semdns does not detect names; the report counts them apart).

Run: ``python corpora/pii/build.py`` (deterministic: seed 17). See CARD.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
SLOT = re.compile(r"\{\{(\w+)\}\}")

FIRST = [
    "Maria",
    "Kenji",
    "Aisha",
    "Lars",
    "Priya",
    "Diego",
    "Chloe",
    "Tomasz",
    "Amara",
    "Liam",
    "Noor",
    "Hugo",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Haddad",
    "Kowalski",
    "Silva",
    "Brennan",
    "Nguyen",
    "Rossi",
]
CITIES = ["Lyon", "Osaka", "Porto", "Leeds", "Austin", "Gdansk", "Nairobi", "Quito", "Perth", "Graz"]
COUNTRIES = ["Portugal", "Kenya", "Canada", "Japan", "Chile", "Norway", "India", "Ghana", "Peru", "Austria"]
STREETS = ["Maple Avenue", "Rue de la Paix", "Elm Street", "Calle Mayor", "King's Road", "Birch Lane"]
ORGS = ["Northwind Traders", "Contoso Bank", "Blue Yonder Airlines", "Fabrikam Ltd", "Tailspin Toys"]
JOBS = ["nurse", "software engineer", "accountant", "teacher", "electrician", "pharmacist"]
NATIONS = ["Portuguese", "Kenyan", "Canadian", "Japanese", "Chilean", "Norwegian"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
STATES = ["CA", "TX", "NY", "WA", "IL", "FL"]
DOMAINS = ["example.com", "mail.example.org", "example.net", "post.example.co.uk", "example.io"]

# Kinds semdns detects, by template slot.
LABELLED = {
    "credit_card_number": "card",
    "email": "email",
    "phone_number": "phone",
    "iban": "iban",
    "ssn": "national_id",
    "ip_address": "ip",
}
NAME_SLOTS = {
    "person", "name", "name_female", "name_male", "first_name", "first_name_female", "first_name_male",
    "first_name_nonbinary", "last_name", "last_name_female", "last_name_male",
}  # fmt: skip

IBAN_BBAN = {
    "DE": (18, "n"),
    "FR": (23, "n"),
    "GB": (18, "gb"),
    "ES": (20, "n"),
    "NL": (14, "nl"),
    "IT": (23, "it"),
}


def luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card(r: random.Random) -> str:
    prefix, length = r.choice(
        [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]
    )
    body = prefix + "".join(str(r.randrange(10)) for _ in range(length - len(prefix) - 1))
    digits = body + luhn_digit(body)
    style = r.choice(["plain", "space", "dash"])
    if style == "plain":
        return digits
    sep = " " if style == "space" else "-"
    groups = [4, 6, 5] if length == 15 else [4, 4, 4, 4]
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    return sep.join(out)


def iban(r: random.Random) -> str:
    country = r.choice(sorted(IBAN_BBAN))
    size, shape = IBAN_BBAN[country]
    if shape == "gb":
        bban = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(str(r.randrange(10)) for _ in range(14))
    elif shape == "nl":
        bban = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(str(r.randrange(10)) for _ in range(10))
    elif shape == "it":
        bban = r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + "".join(str(r.randrange(10)) for _ in range(22))
    else:
        bban = "".join(str(r.randrange(10)) for _ in range(size))
    rearranged = bban + country + "00"
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    compact = f"{country}{98 - number % 97:02d}{bban}"
    if r.random() < 0.5:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def phone(r: random.Random) -> str:
    def d(n: int) -> str:
        return "".join(str(r.randrange(10)) for _ in range(n))

    area = str(r.randrange(2, 10)) + d(2)
    exchange = str(r.randrange(2, 10)) + d(2)
    return r.choice(
        [
            f"({area}) {exchange}-{d(4)}",
            f"{area}-{exchange}-{d(4)}",
            f"{area}.{exchange}.{d(4)}",
            f"+1 {area} {exchange} {d(4)}",
            f"+1-{area}-{exchange}-{d(4)}",
            f"{area}-{exchange}-{d(4)} x{d(3)}",
            f"+44 20 {d(4)} {d(4)}",
            f"020 {d(4)} {d(4)}",
            f"+33 {r.randrange(1, 10)} {d(2)} {d(2)} {d(2)} {d(2)}",
            f"0{r.randrange(1, 10)} {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+49 30 {d(7)}",
            f"+351 {d(3)} {d(3)} {d(3)}",
        ]
    )


def ssn(r: random.Random) -> str:
    area = r.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{r.randrange(1, 100):02d}-{r.randrange(1, 10000):04d}"


def ip(r: random.Random) -> str:
    if r.random() < 0.6:
        return ".".join(str(r.randrange(256)) for _ in range(4))
    groups = [f"{r.randrange(65536):x}" for _ in range(8)]
    if r.random() < 0.5:
        return ":".join(groups)
    return f"2001:db8::{groups[6]}:{groups[7]}"


def email(r: random.Random) -> str:
    first, last = r.choice(FIRST).lower(), r.choice(LAST).lower()
    local = r.choice(
        [f"{first}.{last}", f"{first}{r.randrange(100)}", f"{first[0]}{last}", f"{first}_{last}"]
    )
    return f"{local}@{r.choice(DOMAINS)}"


def date(r: random.Random) -> str:
    y, m, day = r.randrange(1950, 2024), r.randrange(1, 13), r.randrange(1, 29)
    return r.choice([f"{m}/{day}/{y}", f"{y}-{m:02d}-{day:02d}", f"{day}.{m:02d}.{y}", f"{day} March {y}"])


def fillers(r: random.Random) -> dict[str, Callable[[], str]]:
    return {
        "address": lambda: (
            f"{r.randrange(1, 999)} {r.choice(STREETS)}, {r.choice(CITIES)} {r.randrange(10000, 99999)}"
        ),
        "age": lambda: str(r.randrange(18, 95)),
        "building_number": lambda: str(r.randrange(1, 2000)),
        "city": lambda: r.choice(CITIES),
        "country": lambda: r.choice(COUNTRIES),
        "date_of_birth": lambda: date(r),
        "date_time": lambda: f"{date(r)} {r.randrange(0, 24):02d}:{r.randrange(0, 60):02d}",
        "day_of_week": lambda: r.choice(DAYS),
        "job": lambda: r.choice(JOBS),
        "nation_plural": lambda: r.choice(NATIONS) + "s",
        "nation_woman": lambda: r.choice(NATIONS) + " woman",
        "nationality": lambda: r.choice(NATIONS),
        "organization": lambda: r.choice(ORGS),
        "postcode": lambda: str(r.randrange(10000, 99999)),
        "zipcode": lambda: str(r.randrange(10000, 99999)),
        "prefix": lambda: r.choice(["Mr.", "Ms.", "Dr."]),
        "prefix_female": lambda: r.choice(["Ms.", "Mrs."]),
        "prefix_male": lambda: "Mr.",
        "secondary_address": lambda: f"Apt. {r.randrange(1, 999)}",
        "state_abbr": lambda: r.choice(STATES),
        "street_name": lambda: r.choice(STREETS),
        "url": lambda: f"https://www.{r.choice(DOMAINS)}/{r.choice(['help', 'account', 'docs'])}",
        "us_driver_license": lambda: r.choice("ABCDEFGH") + "".join(str(r.randrange(10)) for _ in range(7)),
        "year": lambda: str(r.randrange(1950, 2030)),
        "card": lambda: card(r),
        "credit_card_number": lambda: card(r),
        "email": lambda: email(r),
        "phone_number": lambda: phone(r),
        "iban": lambda: iban(r),
        "ssn": lambda: ssn(r),
        "ip_address": lambda: ip(r),
    }


def fill(template: str, r: random.Random) -> dict[str, object]:
    make = fillers(r)
    text, spans, out_of_scope, last = "", [], [], 0
    for m in SLOT.finditer(template):
        text += template[last : m.start()]
        slot = m.group(1)
        if slot in NAME_SLOTS:
            value = (
                f"{r.choice(FIRST)} {r.choice(LAST)}"
                if slot in ("person", "name") or "name_" in slot
                else (r.choice(FIRST) if slot.startswith("first") else r.choice(LAST))
            )
            out_of_scope.append({"kind": "person", "start": len(text), "end": len(text) + len(value)})
        else:
            value = make[slot]()
        if slot in LABELLED:
            spans.append(
                {"kind": LABELLED[slot], "start": len(text), "end": len(text) + len(value), "slot": slot}
            )
        text += value
        last = m.end()
    text += template[last:]
    return {"text": text, "spans": spans, "out_of_scope": out_of_scope}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-template", type=int, default=5)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, default=HERE / "eval.jsonl")
    args = parser.parse_args()
    r = random.Random(args.seed)
    raw = (HERE / "presidio-templates.txt").read_text(encoding="utf-8").splitlines()
    # The templates escape line breaks and commas as in a CSV cell (``\n``, ``\,``): unescape them.
    templates = [t.strip().replace("\\n", "\n").replace("\\,", ",") for t in raw]
    templates = [t for t in templates if t]
    rows = []
    for i, template in enumerate(templates):
        for _ in range(args.per_template):
            rows.append({"template": i + 1, **fill(template, r)})
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(templates)} templates x {args.per_template} = {len(rows)} sentences -> {args.out}")


if __name__ == "__main__":
    main()
