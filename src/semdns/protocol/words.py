"""CCP's word coder (``words``): a zone's words as Huffman codes, for short messages.

Why not zstd for these: a 79-byte trivia question repeats almost no phrase of three bytes or more
from anything zstd could match against, so zstd codes it byte by byte with no context at all and
tops out where a context-free byte coder does (1.6-1.8x, docs/compression.md). A word model trained
on the zone's own text gives each of its frequent *pieces* (a word with its leading space, a run of
punctuation, whitespace) one prefix code, spells a word it has not seen in runs of three characters
it has, and any other run as its UTF-8 bytes, each with a code of its own: so every text round-trips, and
text like the zone's costs about what a model with a word of context would spend (2.5x and more on
the same questions).

The code is canonical Huffman (bit-aligned: a short message pays at most 7 bits of padding, where
an arithmetic coder's machine words would cost several bytes), ended by its own end-of-message
symbol. Encoding cuts the text into the model's symbols with one Aho-Corasick automaton
(pyahocorasick, which the keyword stage uses too: leftmost-longest matches, in C, each carrying
its code), so a message costs one scan and one join; the model holds every ASCII character as a
symbol, so any text made of characters it knows is covered. Other text takes the general path: a
regular expression cuts it into pieces, unknown ones spelled in runs and bytes. Decoding is one
table search per symbol (:func:`bisect.bisect_right` over the canonical code's limits). Both cost
time in proportion to the text, so senders use it for short messages (:data:`SHORT_MESSAGE_BYTES`)
and zstd beyond.

The model file (``<zone>.v<N>.words``, served like a zstd dictionary) is :data:`MAGIC`, the code
length of the end symbol and of each of the 256 bytes, then the count and the pieces, each as its
code length, its UTF-8 size and its bytes. The code lengths alone define the code.
"""

from __future__ import annotations

import bisect
import heapq
import re
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

MAGIC = b"SDW\x01"  # "semdns words", format 1 (zstd dictionaries start with 37 a4 30 ec)
MAX_CODE_BITS = 24
MAX_PIECES = 1 << 16
MAX_PIECE_BYTES = 255
DEFAULT_PIECES = 32768
# Up to this size a message is word-coded by the senders' rule (ccp.pick_dictionary); measured on
# the routing corpora's prompts: faster than 10 µs and smaller than zstd for 79-91-byte prompts,
# smaller but over 10 µs for 190-byte ones (bench/compress.py --lossless, docs/compression.md).
SHORT_MESSAGE_BYTES = 128
# The most a ``words`` context may hold. Decoding runs in Python at a few MB/s, so a peer must not be
# able to make a receiver spend seconds on one message; zstd serves anything longer far better anyway.
MAX_WORDS_CONTEXT_BYTES = 64 * 1024
_SPELLED_LIMIT = 1 << 14  # spellings remembered (a few MB at most): the names a zone's traffic repeats

# Every character is a word character, whitespace or neither, so the pieces cover any text.
PIECES = re.compile(r" ?(?:\w+|[^\w\s]+)|\s+")
# A piece the model lacks is spelled in runs of this many characters (the last one shorter). On
# TriviaQA's train questions (a fifth held out) runs of 2-3 characters beat runs of 4 and syllables
# (2.67-2.68x against 2.59x and 2.61x).
SPELLING = 3
_RUNS = re.compile(f".{{1,{SPELLING}}}", re.DOTALL)


def spelling(piece: str) -> list[str]:
    """The runs of :data:`SPELLING` characters the coder spells an unknown ``piece`` with."""
    return _RUNS.findall(piece)


class WordModelError(ValueError):
    """Bytes that are not a word model, or a coded message the model cannot decode."""


@dataclass(frozen=True)
class WordModel:
    """A canonical Huffman code over pieces, the 256 bytes and an end symbol (see module doc)."""

    pieces: tuple[str, ...]
    piece_bits: tuple[int, ...]
    byte_bits: tuple[int, ...]
    end_bits: int
    _encode_table: dict[str, str] = field(init=False, repr=False, compare=False)
    _codes: dict[str, str] = field(init=False, repr=False, compare=False)
    _codes_limit: int = field(init=False, repr=False, compare=False)
    _scanner: Any = field(init=False, repr=False, compare=False)
    """An Aho-Corasick automaton over the pieces, each carrying its code (the fast path)."""
    _characters: frozenset[str] = field(init=False, repr=False, compare=False)
    """The characters that are pieces of their own: text made of them is covered by the scanner."""
    _ascii: bool = field(init=False, repr=False, compare=False)
    """Whether every ASCII character is a piece (then ASCII text needs no check)."""
    _byte_codes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _end_code: str = field(init=False, repr=False, compare=False)
    _limits: list[int] = field(init=False, repr=False, compare=False)
    _lengths: list[int] = field(init=False, repr=False, compare=False)
    _bases: list[int] = field(init=False, repr=False, compare=False)
    _symbols: list[bytes | None] = field(init=False, repr=False, compare=False)
    _width: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.byte_bits) != 256 or len(self.piece_bits) != len(self.pieces):
            raise WordModelError("a word model needs a code length for each of 256 bytes and each piece")
        if len(self.pieces) > MAX_PIECES or len(set(self.pieces)) != len(self.pieces):
            raise WordModelError(f"a word model holds at most {MAX_PIECES} distinct pieces")
        # Symbol order: the end symbol, the bytes 0-255, then the pieces; canonical codes are given
        # in order of (length, that order), so the lengths alone define the code.
        symbols: list[bytes | None] = [None, *(bytes([b]) for b in range(256))]
        symbols += [p.encode("utf-8") for p in self.pieces]
        lengths = [self.end_bits, *self.byte_bits, *self.piece_bits]
        if any(not 1 <= n <= MAX_CODE_BITS for n in lengths):
            raise WordModelError(f"code lengths must be 1..{MAX_CODE_BITS} bits")
        if any(not 0 < len(s) <= MAX_PIECE_BYTES for s in symbols[257:] if s is not None):
            raise WordModelError(f"pieces must be 1..{MAX_PIECE_BYTES} bytes of UTF-8")
        if sum(1 << (MAX_CODE_BITS - n) for n in lengths) != 1 << MAX_CODE_BITS:
            raise WordModelError("the code lengths do not form a complete prefix code")
        order = sorted(range(len(symbols)), key=lambda i: (lengths[i], i))
        width = max(lengths)
        codes: list[str] = [""] * len(symbols)
        limits: list[int] = []
        bases: list[int] = []
        lens: list[int] = []
        code = 0
        previous = lengths[order[0]]
        first_rank = 0
        first_code = 0
        for rank, i in enumerate(order):
            n = lengths[i]
            if n != previous:
                limits.append(code << (width - previous))
                lens.append(previous)
                bases.append(first_rank - first_code)
                code <<= n - previous
                previous = n
                first_rank, first_code = rank, code
            codes[i] = format(code, f"0{n}b")
            code += 1
        limits.append(code << (width - previous))
        lens.append(previous)
        bases.append(first_rank - first_code)
        set_ = object.__setattr__
        set_(self, "_encode_table", {p: codes[257 + k] for k, p in enumerate(self.pieces)})
        # What the encoder looks up: the pieces' codes, and then what it has spelled (see _spell).
        set_(self, "_codes", dict(self._encode_table))
        set_(self, "_codes_limit", len(self._encode_table) + _SPELLED_LIMIT)
        set_(self, "_scanner", _scanner_of(self._encode_table.items()) if self.pieces else None)
        characters = frozenset(p for p in self.pieces if len(p) == 1)
        set_(self, "_characters", characters)
        set_(self, "_ascii", characters.issuperset(map(chr, range(128))))
        set_(self, "_byte_codes", tuple(codes[1:257]))
        set_(self, "_end_code", codes[0])
        set_(self, "_limits", limits)
        set_(self, "_lengths", lens)
        set_(self, "_bases", bases)
        set_(self, "_symbols", [symbols[i] for i in order])
        set_(self, "_width", width)

    # -- coding ----------------------------------------------------------------------------------

    def encode(self, text: str) -> bytes:
        """``text`` as a bit string of codes, the end symbol, and zero bits to a whole byte."""
        if self._scanner is not None and (
            (self._ascii and text.isascii()) or self._characters.issuperset(text)
        ):
            # Every character is a piece, so the leftmost-longest matches cover the text.
            parts = [code for _, code in self._scanner.iter_long(text)]
        else:
            parts = self._pieces(text)
        parts.append(self._end_code)
        bits = "".join(parts)
        pad = -len(bits) % 8
        return (int(bits, 2) << pad).to_bytes((len(bits) + pad) // 8, "big")

    def _pieces(self, text: str) -> list[str]:
        """The general path, for any text: its pieces' codes, unknown pieces spelled."""
        get = self._codes.get
        spell = self._spell
        return [get(piece) or spell(piece) for piece in PIECES.findall(text)]

    def _spell(self, piece: str) -> str:
        """A piece the model lacks: its runs that the model has, and bytes for the rest.

        The spelling is remembered (up to a bound) for the piece and for each byte-coded run: any
        code that decodes to a string is a valid code for it, and names and terms the model lacks
        come back in a zone's traffic, while spelling one costs more than the rest of a message."""
        codes = self._codes
        get = codes.get
        byte_codes = self._byte_codes
        parts = []
        for run in spelling(piece):
            code = get(run)
            if code is None:
                code = "".join([byte_codes[b] for b in run.encode("utf-8")])
                if len(codes) < self._codes_limit:
                    codes[run] = code
            parts.append(code)
        spelled = "".join(parts)
        if len(codes) < self._codes_limit:
            codes[piece] = spelled
        return spelled

    def decode(self, data: bytes, limit: int) -> bytes:
        """The UTF-8 bytes ``data`` codes; :class:`WordModelError` when it runs past its end, has
        more than a byte of padding or padding that is not zero, or decodes to over ``limit`` bytes."""
        width = self._width
        mask = (1 << width) - 1
        limits, lengths, bases, symbols = self._limits, self._lengths, self._bases, self._symbols
        search = bisect.bisect_right
        value = int.from_bytes(data, "big")
        window = value << width
        pos = len(data) * 8
        out: list[bytes] = []
        size = 0
        while pos > 0:
            v = (window >> pos) & mask
            j = search(limits, v)
            n = lengths[j]
            symbol = symbols[bases[j] + (v >> (width - n))]
            pos -= n
            if symbol is None:
                if pos < 0 or pos >= 8 or value & ((1 << pos) - 1):
                    raise WordModelError("a word-coded message has a bad ending (padding)")
                return b"".join(out)
            size += len(symbol)
            if size > limit:
                raise WordModelError(f"a word-coded message decodes to more than {limit} bytes")
            out.append(symbol)
        raise WordModelError("a word-coded message ends without its end symbol")

    # -- file form ---------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        parts = [MAGIC, bytes([self.end_bits, *self.byte_bits]), struct.pack(">I", len(self.pieces))]
        for piece, bits in zip(self.pieces, self.piece_bits, strict=True):
            raw = piece.encode("utf-8")
            parts.append(bytes([bits, len(raw)]) + raw)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> WordModel:
        """Parse a model file (:class:`WordModelError` naming what is wrong with it)."""
        if not data.startswith(MAGIC):
            raise WordModelError("not a word model (it does not start with the word-model magic)")
        head = len(MAGIC) + 257
        if len(data) < head + 4:
            raise WordModelError("a word model cut short (no header)")
        end_bits, byte_bits = data[len(MAGIC)], tuple(data[len(MAGIC) + 1 : head])
        (count,) = struct.unpack_from(">I", data, head)
        if count > MAX_PIECES:
            raise WordModelError(f"a word model of {count} pieces (at most {MAX_PIECES})")
        pieces: list[str] = []
        bits: list[int] = []
        at = head + 4
        for number in range(count):
            if at + 2 > len(data) or at + 2 + data[at + 1] > len(data):
                raise WordModelError(f"a word model cut short (piece {number} of {count})")
            size = data[at + 1]
            try:
                pieces.append(data[at + 2 : at + 2 + size].decode("utf-8"))
            except UnicodeDecodeError:
                raise WordModelError(f"piece {number} of the word model is not UTF-8") from None
            bits.append(data[at])
            at += 2 + size
        if at != len(data):
            raise WordModelError(f"{len(data) - at} stray bytes after the word model's pieces")
        return cls(tuple(pieces), tuple(bits), byte_bits, end_bits)


def train_word_model(samples: Iterable[str], *, max_pieces: int = DEFAULT_PIECES) -> WordModel:
    """A model of ``samples``: their ``max_pieces`` most frequent pieces, the runs that spell their
    rare ones and every character they use (all of ASCII too), with code lengths from how often the
    encoder spends each symbol on them.

    The counts come from cutting the samples as the encoder does (leftmost-longest matches). A piece
    seen once is kept (it may come back), and also cut again without the pieces seen once: that is
    how the encoder pays for the unseen pieces it stands for, so the runs and characters that spell
    new words get honest frequencies.
    """
    if not 1 <= max_pieces <= MAX_PIECES:
        raise ValueError(f"max_pieces must be 1..{MAX_PIECES}")
    texts = [s for s in samples if s]
    counts = Counter(piece for text in texts for piece in PIECES.findall(text))
    rare = Counter[str]()
    for piece, n in counts.items():
        if n == 1:
            rare.update(spelling(piece))
    fits = [p for p, _ in counts.most_common() if len(p.encode("utf-8")) <= MAX_PIECE_BYTES]
    characters = sorted({c for text in texts for c in text} | set(map(chr, range(128))))
    kept = fits[: max(max_pieces - len(characters), 0)]
    kept_set = set(kept)
    room = max_pieces - len(kept) - len(characters)
    runs = [s for s, n in rare.most_common() if n >= 2 and s not in kept_set][: max(room, 0)]
    taken = kept_set.union(runs)
    vocabulary = [*kept, *runs, *(c for c in characters if c not in taken)]
    hapax = {p for p in kept if counts[p] == 1}
    weights = Counter[str]()
    everything = _scanner_of((p, p) for p in vocabulary)
    for text in texts:
        weights.update(piece for _, piece in everything.iter_long(text))
    without_hapax = _scanner_of((p, p) for p in vocabulary if p not in hapax)
    for piece in hapax:
        weights.update(part for _, part in without_hapax.iter_long(piece))
    # Every symbol gets at least a half count (doubled to stay in integers), so nothing is uncodable;
    # the 256 bytes are only for characters the model lacks, on the general path.
    symbol_weights = [2 * len(texts) + 1, *([1] * 256), *(2 * weights[p] + 1 for p in vocabulary)]
    lengths = huffman_lengths(symbol_weights, MAX_CODE_BITS)
    return WordModel(tuple(vocabulary), tuple(lengths[257:]), tuple(lengths[1:257]), lengths[0])


def _scanner_of(pieces: Iterable[tuple[str, str]]) -> Any:
    """An Aho-Corasick automaton over the pieces, each match carrying its value: the piece's code
    (the encoder) or the piece itself (the trainer, counting what the encoder would spend)."""
    scanner = ahocorasick.Automaton()
    for piece, value in pieces:
        scanner.add_word(piece, value)
    scanner.make_automaton()
    return scanner


def huffman_lengths(weights: Sequence[int], max_bits: int) -> list[int]:
    """Huffman code lengths for ``weights`` (at least two), none over ``max_bits``: when a code comes
    out too long the weights are flattened (halved, plus one) and the code built again."""
    if len(weights) < 2 or len(weights) > 1 << max_bits:
        raise ValueError(f"a code needs 2..{1 << max_bits} symbols")
    current = list(weights)
    while True:
        heap = [(w, i) for i, w in enumerate(current)]
        heapq.heapify(heap)
        parent = list(range(len(current)))
        node = len(current)
        while len(heap) > 1:
            w1, a = heapq.heappop(heap)
            w2, b = heapq.heappop(heap)
            parent.append(node)
            parent[a] = parent[b] = node
            heapq.heappush(heap, (w1 + w2, node))
            node += 1
        root = heap[0][1]
        depth = [0] * len(parent)
        for i in range(root - 1, -1, -1):  # parents are created after their children
            depth[i] = depth[parent[i]] + 1
        lengths = depth[: len(current)]
        if max(lengths) <= max_bits:
            return lengths
        current = [w // 2 + 1 for w in current]
