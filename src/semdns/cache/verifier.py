"""The verifier: a semantic-cache candidate is served only if nothing that changes the answer differs.

Embeddings place "how do I activate my card" next to "how do I cancel my card"; a similarity threshold
alone cannot tell them apart. Before a semantic hit is served, both prompts are compared on what an
embedding blurs and an answer depends on:

* numbers (digits and number words), dates (months, weekdays, years) and units;
* negation (``not``, ``never``, ``without``, ``n't`` …);
* entities from gazetteers (programming and natural languages, drugs, laws, libraries, countries,
  cloud services) and proper nouns in general (capitalised words not at a sentence start);
* opposite actions (activate/cancel, encrypt/decrypt, buy/sell, …) and reversed directions
  ("X to Y" vs "Y to X").

Rules, not a model: each rejection names its reason (logged, counted, shown in ``cache stats``), and
the check costs microseconds. A paraphrase keeps all of these; a near miss changes at least one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


def _words(text: str) -> set[str]:
    return set(text.split())


_WORD = re.compile(r"[a-z0-9][a-z0-9+#.'’_-]*[a-z0-9+#]|[a-z0-9+#]", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![a-z0-9])[-+]?(\d+(?:[.,]\d+)*)([a-z%°µ/]*)", re.IGNORECASE)
_ORDINAL = frozenset({"", "st", "nd", "rd", "th", "s"})
_ALIASES = {
    "kubectl": "kubernetes", "k8s": "kubernetes", "jvm": "java", "js": "javascript", "py": "python",
    "pregnant": "pregnancy", "golang": "go", "postgres": "postgresql", "psql": "postgresql",
    "ts": "typescript",
    "mondays": "monday", "tuesdays": "tuesday", "wednesdays": "wednesday", "thursdays": "thursday",
    "fridays": "friday", "saturdays": "saturday", "sundays": "sunday",
}  # fmt: skip

_NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
    "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100",
    "thousand": "1000", "million": "1000000", "billion": "1000000000", "half": "0.5",
    "third": "3", "fourth": "4", "fifth": "5", "tenth": "10",
    "twice": "2", "double": "x2", "triple": "x3", "dozen": "12",
}  # fmt: skip
_MONTHS = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_MONTH_CANON = {m: m[:3] for m in _MONTHS}
_WEEKDAYS = {d: d[:3] for d in _words("monday tuesday wednesday thursday friday saturday sunday")}
_RELATIVE_DAYS = {"today", "tomorrow", "yesterday", "tonight", "weekend", "weekday", "weekdays"}

_UNITS = {
    # mass, volume, length, temperature, time, data, money, percentages, energy, speed
    "mg": "mg", "milligram": "mg", "milligrams": "mg", "g": "g", "gram": "g", "grams": "g",
    "kg": "kg", "kilogram": "kg", "kilograms": "kg", "lb": "lb", "lbs": "lb", "pound": "lb",
    "pounds": "lb", "oz": "oz", "ounce": "oz", "ounces": "oz", "mcg": "mcg", "µg": "mcg",
    "ml": "ml", "milliliter": "ml", "milliliters": "ml", "l": "l", "liter": "l", "liters": "l",
    "litre": "l", "litres": "l", "gallon": "gal", "gallons": "gal", "cup": "cup", "cups": "cup",
    "mm": "mm", "cm": "cm", "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "km": "km", "kilometer": "km", "kilometers": "km", "mile": "mi", "miles": "mi", "inch": "in",
    "inches": "in", "foot": "ft", "feet": "ft", "ft": "ft", "yard": "yd", "yards": "yd",
    "celsius": "c", "fahrenheit": "f", "kelvin": "k", "°c": "c", "°f": "f",
    "ms": "ms", "millisecond": "ms", "milliseconds": "ms", "second": "s", "seconds": "s", "sec": "s",
    "minute": "min", "minutes": "min", "min": "min", "hour": "h", "hours": "h", "hr": "h",
    "day": "day", "days": "day", "daily": "day", "week": "wk", "weeks": "wk", "weekly": "wk",
    "month": "mo", "months": "mo", "monthly": "mo", "year": "yr", "years": "yr", "yearly": "yr",
    "annual": "yr", "annually": "yr", "decade": "dec", "century": "cent",
    "kb": "kb", "mb": "mb", "gb": "gb", "tb": "tb", "kib": "kb", "mib": "mb", "gib": "gb",
    "usd": "usd", "dollar": "usd", "dollars": "usd", "$": "usd", "eur": "eur", "euro": "eur",
    "euros": "eur", "€": "eur", "gbp": "gbp", "£": "gbp", "yen": "jpy", "jpy": "jpy",
    "percent": "%", "%": "%", "percentage": "%", "bps": "bps", "basis": "bps",
    "kcal": "kcal", "calorie": "kcal", "calories": "kcal", "kwh": "kwh", "watt": "w", "watts": "w",
    "mph": "mph", "kph": "kph", "km/h": "kph", "hz": "hz", "ghz": "ghz", "mhz": "mhz",
    "bit": "bit", "bits": "bit", "byte": "byte", "bytes": "byte", "core": "core", "cores": "core",
}  # fmt: skip

_NEGATIONS = {
    "not", "no", "never", "without", "cannot", "can't", "cant", "won't", "wont", "don't", "dont",
    "doesn't", "doesnt", "didn't", "didnt", "isn't", "isnt", "aren't", "arent", "wasn't", "wasnt",
    "shouldn't", "shouldnt", "mustn't", "couldn't", "wouldn't", "none", "nor", "neither", "nothing",
    "nobody", "unable", "avoid", "except", "excluding", "stop", "instead",
}  # fmt: skip

_GAZETTEERS: dict[str, set[str]] = {
    "language": _words(
        "python java javascript typescript rust go golang c c++ c# ruby php kotlin swift scala haskell "
        "perl lua r julia elixir erlang clojure dart fortran cobol bash powershell matlab ocaml zig "
        "english french german spanish italian portuguese chinese mandarin cantonese japanese korean "
        "russian arabic hindi dutch swedish polish turkish greek hebrew latin"
    ),
    "drug": _words(
        "ibuprofen acetaminophen paracetamol aspirin naproxen amoxicillin penicillin azithromycin "
        "metformin insulin lisinopril atorvastatin simvastatin warfarin heparin prednisone omeprazole "
        "sertraline fluoxetine citalopram lorazepam diazepam alprazolam morphine oxycodone codeine "
        "tramadol levothyroxine amlodipine losartan metoprolol ciprofloxacin doxycycline gabapentin "
        "albuterol montelukast cetirizine loratadine diphenhydramine melatonin clopidogrel apixaban"
    ),
    "law": _words(
        "gdpr hipaa ccpa coppa ferpa sox sarbanes-oxley dmca ada fmla flsa erisa fcra glba pci "
        "pci-dss ucc hitech cfaa ecpa eu-ai-act dsa dma nis2 mifid basel"
    ),
    "library": _words(
        "numpy pandas scipy pytorch torch tensorflow keras jax sklearn scikit-learn django flask "
        "fastapi starlette react vue angular svelte nextjs next.js express spring rails laravel "
        "requests httpx aiohttp asyncio celery sqlalchemy pydantic matplotlib seaborn plotly "
        "kubernetes docker terraform ansible helm nginx apache postgres postgresql mysql sqlite "
        "mongodb redis kafka rabbitmq elasticsearch git github gitlab jenkins webpack vite npm pip "
        "conda poetry cargo maven gradle junit pytest jest mocha selenium playwright openssl"
    ),
    "country": _words(
        "usa us america canada mexico brazil argentina chile peru colombia uk britain england "
        "scotland ireland france germany spain italy portugal netherlands belgium switzerland austria "
        "sweden norway denmark finland poland russia ukraine turkey greece egypt nigeria kenya "
        "ethiopia morocco india pakistan bangladesh china japan korea vietnam thailand indonesia "
        "philippines malaysia singapore australia zealand israel iran iraq saudi uae qatar"
    ),
    "cloud": _words("aws azure gcp s3 ec2 lambda cloudflare heroku vercel netlify"),
    "role": _words(
        "landlord tenant employer employee buyer seller lender borrower parent child doctor patient "
        "husband wife teacher student manager contractor customer vendor plaintiff defendant"
    ),
    "tier": _words("basic premium pro enterprise free standard plus business starter"),
    "os": _words("windows linux macos mac ubuntu debian fedora centos android ios freebsd"),
}

# Pairs (or groups) of opposite actions; each set lists word stems (prefixes) of one side.
_OPPOSITES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("activat", "enabl", "turn on", "switch on", "unblock", "unfreez", "reactivat"),
     ("cancel", "deactivat", "disabl", "turn off", "switch off", "block", "freez", "terminat", "clos")),
    (("encrypt", "encod", "compress", "serializ", "zip", "hash"),
     ("decrypt", "decod", "decompress", "deserializ", "unzip", "uncompress")),
    (("buy", "bought", "purchas", "long"), ("sell", "sold", "short")),
    (("increas", "rais", "boost", "grow", "higher", "more", "maximi", "max", "up"),
     ("decreas", "lower", "reduc", "cut", "shrink", "less", "fewer", "minimi", "min", "down")),
    (("upload", "push", "export", "send", "import"), ("download", "pull", "fetch", "receiv")),
    (("install", "add", "insert", "creat", "append", "includ", "join", "attach", "mount", "subscri"),
     ("uninstall", "remov", "delet", "drop", "exclud", "leav", "detach", "unmount", "unsubscrib", "eras")),
    (("open", "start", "launch", "begin", "resum"),
     ("stop", "end", "finish", "paus", "halt", "shut", "clos")),
    (("soft",), ("hard",)),
    (("learn", "study"), ("teach",)),
    (("read", "load", "pars"), ("writ", "sav", "dump")),
    (("connect",), ("disconnect",)),
    (("boil",), ("freez",)),
    (("log in", "login", "sign in", "signin", "sign up", "signup", "register"),
     ("log out", "logout", "sign out", "signout", "deregister")),
    (("lock",), ("unlock",)),
    (("deposit", "credit", "lend", "pay in"), ("withdraw", "debit", "borrow", "pay out")),
    (("hire", "onboard", "employ"), ("fire", "dismiss", "lay off", "offboard", "terminat")),
    (("accept", "approv", "allow", "permit", "grant"),
     ("reject", "deni", "deny", "block", "revok", "forbid")),
    (("upgrad", "promot"), ("downgrad", "demot")),
    (("befor", "prior", "earlier", "pre-"), ("after", "later", "post-")),
    (("best", "advantag", "pros", "benefit", "strength"),
     ("worst", "disadvantag", "cons", "drawback", "risk", "weakness")),
    (("import",), ("export",)),
    (("merg", "combin", "concat"), ("split", "separat")),
    (("win", "won", "gain", "profit"), ("lose", "lost", "loss")),
    (("hot", "warm", "heat"), ("cold", "cool", "chill", "freez")),
    (("fast", "quick", "speed up"), ("slow",)),
    (("first",), ("last",)),
    (("sort ascending", "ascending", "smallest", "oldest", "earliest"),
     ("descending", "largest", "biggest", "newest", "latest")),
    (("true",), ("false",)),
    (("legal",), ("illegal",)),
    (("safe",), ("unsafe", "dangerous")),
    (("male", "man", "men", "boy"), ("female", "woman", "women", "girl")),
    (("adult", "adults"), ("child", "children", "kid", "kids", "infant", "baby", "pediatric")),
)  # fmt: skip


def _known(token: str) -> str | None:
    if token in _UNITS:
        return _UNITS[token]
    if any(token in names for names in _GAZETTEERS.values()):
        return token
    return None


def _directions(tokens: list[str], lowered: str) -> frozenset[tuple[str, str]]:
    """Ordered pairs (source, target): "X to Y" / "X into Y" between known terms, and a conversion's
    source unit (the one after a number) to its other unit."""
    pairs: set[tuple[str, str]] = set()
    for i, token in enumerate(tokens):
        if token not in ("to", "into") or i == 0 or i + 1 >= len(tokens):
            continue
        source = next((k for t in reversed(tokens[max(0, i - 2) : i]) if (k := _known(t))), None)
        target = next((k for t in tokens[i + 1 : i + 3] if (k := _known(t))), None)
        if source and target and source != target:
            pairs.add((source, target))
    measured = [m.group(1) for m in re.finditer(r"\d+(?:\.\d+)?\s*([a-zµ°/%]+)", lowered)]
    measured = [_UNITS[u] for u in measured if u in _UNITS]
    if len(measured) == 1:
        others = {_UNITS[t] for t in tokens if t in _UNITS} - {measured[0]}
        pairs |= {(measured[0], other) for other in others}
    return frozenset(pairs)


# Words that change the answer when only one prompt has them ("sort a list" vs "sort a list in
# descending order"; "side effects of metformin" vs "of stopping metformin").
_QUALIFIERS = _words(
    "descending ascending reverse reversed recursive recursively asynchronously async stopping quitting "
    "withdrawal overdose alternative alternatives only except excluding instead vegan vegetarian "
    "pregnant pregnancy breastfeeding elderly pediatric chronic acute emergency free cheapest fastest "
    "safest largest smallest oldest newest"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """``ok`` when the candidate may be served; otherwise ``reason`` says why not."""

    ok: bool
    reason: str = ""


OK = Verdict(True)


@dataclass(frozen=True, slots=True)
class _Facts:
    numbers: frozenset[str]
    months: frozenset[str]
    weekdays: frozenset[str]
    relative_days: frozenset[str]
    units: frozenset[str]
    measured: frozenset[tuple[str, str]]
    qualifiers: frozenset[str]
    negated: bool
    entities: dict[str, frozenset[str]]
    directions: frozenset[tuple[str, str]]
    proper: frozenset[str]
    words: frozenset[str]
    actions: tuple[frozenset[int], frozenset[int]]
    text: str


def _tokens(text: str) -> list[str]:
    out = []
    for raw in _WORD.findall(text):
        token = raw.lower().replace("’", "'").removesuffix("'s")
        out.append(_ALIASES.get(token, token))
    return out


def _proper_nouns(text: str) -> frozenset[str]:
    """Capitalised words that do not start a sentence, and words with inner capitals or digits
    (``GPT-4``, ``iPhone``, ``S3``): the names an embedding treats as interchangeable."""
    out: set[str] = set()
    for sentence in re.split(r"[.!?\n]+\s*|:\s+", text):
        words = sentence.split()
        for i, raw in enumerate(words):
            word = raw.strip("\"'()[]{},;:?!.").replace("’", "'").removesuffix("'s")
            if not word or not word[0].isalnum() or "'" in word:
                continue
            inner_caps = any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)
            if (i > 0 and word[0].isupper() and word.lower() != "i") or inner_caps:
                lowered = word.lower()
                out.add(_ALIASES.get(lowered, lowered))
    return frozenset(out)


@lru_cache(maxsize=65536)
def extract(text: str) -> _Facts:
    """The facts of one prompt (cached: cached prompts are verified again and again)."""
    lowered = text.lower().replace("’", "'")
    tokens = _tokens(text)
    token_set = set(tokens)
    numbers = {
        digits.replace(",", "").removesuffix(".0")
        for digits, suffix in _NUMBER.findall(lowered)
        if suffix in _ORDINAL or suffix in _UNITS  # "2fa", "s3", "ec2" are names, not numbers
    }
    numbers |= {_NUMBER_WORDS[t] for t in tokens if t in _NUMBER_WORDS}
    units = {_UNITS[t] for t in tokens if t in _UNITS}
    units |= {_UNITS[s] for s in ("$", "€", "£", "%") if s in text}
    for match in re.finditer(r"\d+(?:\.\d+)?\s*([a-zµ°/%]+)", lowered):
        unit = match.group(1)
        if unit in _UNITS:
            units.add(_UNITS[unit])
    entities: dict[str, frozenset[str]] = {}
    for kind, names in _GAZETTEERS.items():
        entities[kind] = frozenset(t for t in tokens if t in names)
    padded = " " + " ".join(tokens) + " "
    sides: list[set[int]] = [set(), set()]
    for index, (left, right) in enumerate(_OPPOSITES):
        for side, stems in enumerate((left, right)):
            if any(_has_stem(padded, stem) for stem in stems):
                sides[side].add(index)
    negated = bool(token_set & _NEGATIONS) or "n't" in lowered
    return _Facts(
        numbers=frozenset(numbers),
        months=frozenset(_MONTH_CANON[t] for t in tokens if t in _MONTH_CANON and t != "may"),
        weekdays=frozenset(_WEEKDAYS[t] for t in tokens if t in _WEEKDAYS),
        relative_days=frozenset(t for t in tokens if t in _RELATIVE_DAYS),
        units=frozenset(units),
        measured=frozenset(
            (digits.replace(",", ""), _UNITS.get(suffix or "", ""))
            for digits, suffix in re.findall(r"(\d+(?:[.,]\d+)*)\s*([a-z%°µ/]+)?", lowered)
            if (suffix or "") in _UNITS
        ),
        qualifiers=frozenset(t for t in tokens if t in _QUALIFIERS),
        negated=negated,
        entities=entities,
        directions=_directions(tokens, lowered),
        proper=_proper_nouns(text),
        words=frozenset(token_set),
        actions=(frozenset(sides[0]), frozenset(sides[1])),
        text=padded,
    )


def _has_stem(padded: str, stem: str) -> bool:
    """``stem`` at the start of a word (``activat`` matches ``activate``, ``activation``)."""
    return (" " + stem) in padded


def verify(cached: str, incoming: str) -> Verdict:
    """May the answer cached for ``cached`` be served for ``incoming``?"""
    if cached == incoming:
        return OK
    a, b = extract(cached), extract(incoming)
    if a.numbers != b.numbers:
        return Verdict(False, f"numbers differ: {_diff(a.numbers, b.numbers)}")
    if a.months != b.months or a.weekdays != b.weekdays or a.relative_days != b.relative_days:
        return Verdict(False, "dates differ")
    if a.units and b.units and a.units != b.units:  # "how long" vs "how many years" is a paraphrase
        return Verdict(False, f"units differ: {_diff(a.units, b.units)}")
    if a.measured and b.measured and a.measured != b.measured:
        return Verdict(False, "quantities differ: " + _diff(_pairs(a.measured), _pairs(b.measured)))
    if a.qualifiers != b.qualifiers:
        return Verdict(False, f"qualifiers differ: {_diff(a.qualifiers, b.qualifiers)}")
    if a.negated != b.negated:
        return Verdict(False, "negation differs")
    for kind, found in a.entities.items():
        if found != b.entities[kind]:
            return Verdict(False, f"{kind} differs: {_diff(found, b.entities[kind])}")
    if a.proper != b.proper:
        # A name present in one prompt and absent (in any case) from the other.
        missing = {p for p in a.proper if p not in b.words} | {p for p in b.proper if p not in a.words}
        if missing:
            return Verdict(False, f"names differ: {', '.join(sorted(missing))}")
    for side in (0, 1):
        other = 1 - side
        flipped = (a.actions[side] - a.actions[other]) & (b.actions[other] - b.actions[side])
        if flipped:
            return Verdict(False, "opposite actions")
    reversed_pairs = {(y, x) for x, y in a.directions} & b.directions
    if reversed_pairs:
        x, y = sorted(reversed_pairs)[0]
        return Verdict(False, f"direction reversed: {y} → {x} vs {x} → {y}")
    return OK


def _diff(a: frozenset[str], b: frozenset[str]) -> str:
    return f"{'/'.join(sorted(a)) or '-'} vs {'/'.join(sorted(b)) or '-'}"


def _pairs(values: frozenset[tuple[str, str]]) -> frozenset[str]:
    return frozenset(f"{n}{u}" for n, u in values)
