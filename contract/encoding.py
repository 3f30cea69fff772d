"""Raw rows -> the model's input: the one encoder ``xgbapi prepare`` and the Lambda both run.

A model's input spec (``InputSpec``) lists its raw fields, each of one kind:
  numeric      the number as is; a missing value stays missing (XGBoost learns where it goes)
  categorical  one-hot over the categories kept at fit time, plus one ``(other)`` column for
               rare categories and, unless the field rejects them, categories never seen in
               training; a missing value sets none of the field's columns (all missing). In
               libsvm the other categories' columns are absent too: missing, not zero
  text         a bag of words over a vocabulary: counts (or 1s) per token, tokenized by
               ``tokenize`` (lower case, HTML tags removed, entities decoded, Unicode words of
               two or more characters, optional English stop words)
and the wire format the model reads (``csv`` or ``libsvm``), the same for training files and
requests, because the two formats disagree about zeros: a CSV ``0`` is zero, an absent libsvm
entry is *missing*. In libsvm, the first and the last column are a constant 1 in every row. The
first because the container's newest serving code shifts a request's indices down by one when
none is 0 (serve_utils._get_sparse_matrix_from_libsvm, on master since May 2026; the released
1.7-1 and 3.0-5 images read them as written, as training does): with index 0 always set, every
container reads a request the way training read the file. The last because libsvm has no width:
a model trained on a file whose last columns are never set (an ``(other)`` nobody fell into) has
fewer features than the spec, and a request that sets them would be refused. Trees never split
on a constant.

Standard library only (the Lambda carries this package): ``prepare`` fits each field on the train
split with ``fit_field``, the manifest stores the spec, and ``Encoder`` turns a raw row into one line of
the model's input, in ``prepare`` for every split and in the Lambda for every request.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("numeric", "categorical", "text")
FORMATS = ("csv", "libsvm")
UNSEEN_POLICIES = ("other", "reject")
TOKENIZER_VERSION = "words-1"
OTHER = "(other)"  # the categorical column for rare and unseen categories
CONSTANT, END = "(constant)", "(end)"  # libsvm's first and last columns, always 1
FLOAT32_MAX = 3.4028234663852886e38
# Text cells that mean "no value" when a raw row comes as text (a CSV file or body).
MISSING_TEXT = frozenset(("", "na", "n/a", "nan", "null"))

DEFAULT_MAX_CATEGORIES = 50
DEFAULT_MIN_CATEGORY_COUNT = 5
DEFAULT_VOCABULARY_SIZE = 5000
DEFAULT_MIN_DOCUMENT_COUNT = 2
DEFAULT_MAX_CHARS = 20000

_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\b\w\w+\b")  # str patterns are Unicode-aware: é, ß, 漢 are word characters
# A short English list (articles, pronouns, auxiliaries, prepositions). Negations such as "not"
# and "no" are kept on purpose: they carry sentiment.
STOP_WORDS = frozenset((
    "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
    "just", "me", "more", "most", "my", "myself", "of", "off", "on", "once", "only", "or",
    "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
))


class EncodingError(ValueError):
    """A raw value the spec cannot encode: ``field``, a stable ``code`` and a message."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message


def tokenize(text: str, stop_words: bool = False) -> list[str]:
    """The tokens of ``text`` (tokenizer ``TOKENIZER_VERSION``): change it only with a new version."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        import html  # only texts with entities pay for its entity table

        text = html.unescape(text)
    words: list[str] = _WORD.findall(text.lower())
    if stop_words:
        return [word for word in words if word not in STOP_WORDS]
    return words


# The Lambda's hot path for text: exactly ``tokenize`` then a vocabulary lookup, without building
# the token list. After this table maps every ASCII byte that is not a word character to a space
# (and keeps every other byte), splitting a lower-cased text's UTF-8 cuts exactly where ASCII \w
# runs end; pieces holding non-ASCII characters (which may or may not be \w) go through the
# regex. The second table also lower-cases, for texts that are all ASCII.
_CUT = bytes(c if c >= 128 or chr(c).isalnum() or c == 95 else 32 for c in range(256))
_CUT_LOWER = _CUT.translate(bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                            b"abcdefghijklmnopqrstuvwxyz"))
_WORD_RUN = re.compile(r"\w\w+")  # under findall, the same matches as \b\w\w+\b: whole \w runs


def column_counts(vocabulary: Sequence[str], first: int,
                  stop_words: bool) -> Callable[[str], Counter[int]]:
    """A function: text -> how often each vocabulary column's token occurs in it (the column is
    ``first`` + the token's place in ``vocabulary``). Equal to ``Counter(first +
    vocabulary.index(t) for t in tokenize(text, stop_words) if t in vocabulary)``: the property
    tests compare the two."""
    # Only tokens tokenize can produce (no stop word when they are dropped, no capital, no
    # one-letter word): a hand-written vocabulary's other entries can never match.
    index = {t: first + i for i, t in enumerate(vocabulary) if tokenize(t, stop_words) == [t]}
    get = index.get
    get_ascii = {t.encode(): j for t, j in index.items() if t.isascii()}.get

    def counts(text: str) -> Counter[int]:
        if "<" in text:
            text = _TAG.sub(" ", text)
        if "&" in text:
            import html

            text = html.unescape(text)
        if text.isascii():
            found = Counter(map(get_ascii, text.encode().translate(_CUT_LOWER).split()))
        else:
            pieces = text.lower().encode().translate(_CUT).split()  # UTF-8, the default
            found = Counter(map(get_ascii, [p for p in pieces if p.isascii()]))
            for piece in pieces:
                if not piece.isascii():
                    found.update(map(get, _WORD_RUN.findall(piece.decode())))
        found.pop(None, None)  # the tokens outside the vocabulary
        return found  # type: ignore[return-value]

    return counts


def category_of(value: Any, field: str) -> str | None:
    """A raw categorical value as its category text; None when missing."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return None if text.lower() in MISSING_TEXT else text
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise EncodingError(field, "wrong_kind", "must be a string (a category) or null")


def number_of(value: Any, field: str, *, text: bool) -> float | None:
    """A raw numeric value as a float; None when missing. ``text``: the value came as CSV text."""
    if value is None:
        return None
    if isinstance(value, str):
        if not text:
            raise EncodingError(field, "wrong_kind", "must be a number or null, not a string")
        stripped = value.strip()
        if stripped.lower() in MISSING_TEXT:
            return None
        try:
            number = float(stripped)
        except ValueError:
            raise EncodingError(field, "wrong_kind", "is not a number") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EncodingError(field, "wrong_kind", "must be a number or null")
    else:
        try:
            number = float(value)
        except OverflowError:  # a JSON integer beyond any float
            number = math.inf
    if math.isnan(number):
        return None
    if not abs(number) <= FLOAT32_MAX:
        raise EncodingError(field, "out_of_range", "is infinite or outside the float32 range "
                            "the model reads")
    return number


def text_of(value: Any, field: str, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EncodingError(field, "wrong_kind", "must be a string (text) or null")
    if len(value) > max_chars:
        raise EncodingError(field, "text_too_long",
                            f"has {len(value)} characters; at most {max_chars} are accepted")
    return value


@dataclass(frozen=True)
class Field:
    """One raw input field and what its kind needs to encode it."""

    name: str
    kind: str = "numeric"
    categories: tuple[str, ...] = ()  # categorical: one column each, in this order, then OTHER
    unseen: str = "other"  # categorical: an unseen category -> OTHER, or "reject" (requests only)
    vocabulary: tuple[str, ...] = ()  # text: one column per token, in this order
    binary: bool = False  # text: 1 for a present token instead of its count
    stop_words: bool = False  # text
    max_chars: int = DEFAULT_MAX_CHARS  # text: longer values are refused
    tokenizer: str = TOKENIZER_VERSION  # text

    @property
    def width(self) -> int:
        if self.kind == "categorical":
            return len(self.categories) + 1
        if self.kind == "text":
            return len(self.vocabulary)
        return 1

    def column_names(self) -> list[str]:
        if self.kind == "categorical":
            return [f"{self.name}={c}" for c in (*self.categories, OTHER)]
        if self.kind == "text":
            return [f"{self.name}:{t}" for t in self.vocabulary]
        return [self.name]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.kind}
        if self.kind == "categorical":
            data.update(categories=list(self.categories), unseen=self.unseen)
        elif self.kind == "text":
            data.update(tokenizer=self.tokenizer, values="binary" if self.binary else "counts",
                        stop_words=self.stop_words, max_chars=self.max_chars,
                        vocabulary=list(self.vocabulary))
        return data


@dataclass(frozen=True)
class InputSpec:
    """The raw fields in order and the format of the model's input."""

    fields: tuple[Field, ...]
    format: str = "csv"

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def plain_numeric(self) -> bool:
        """Numbers in, the same numbers out as CSV: the Lambda's numeric fast path applies."""
        return self.format == "csv" and all(f.kind == "numeric" for f in self.fields)

    @property
    def content_type(self) -> str:
        return "text/libsvm" if self.format == "libsvm" else "text/csv"

    def column_names(self) -> list[str]:
        names = [CONSTANT] if self.format == "libsvm" else []
        for f in self.fields:
            names.extend(f.column_names())
        return [*names, END] if self.format == "libsvm" else names

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "fields": [f.to_dict() for f in self.fields]}

    def to_json(self) -> str:
        """The file the Lambda reads (names.INPUT_SPEC_FILENAME): compact, the same bytes for the
        same spec, so the asset's hash changes only when the model's encoding does."""
        import json

        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


def parse_fields(items: Any, where: str = "features") -> tuple[Field, ...]:
    """Fields from their JSON form; ValueError naming the item and key for anything invalid."""
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: must be a non-empty list of fields")
    fields, seen = [], set()
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ValueError(f'{at}: must be an object like {{"name": ..., "type": "numeric"}}')
        name, kind = item["name"], item.get("type", "numeric")
        if name in seen:
            raise ValueError(f"{at}.name: {name!r} appears twice")
        seen.add(name)
        if kind not in KINDS:
            raise ValueError(f"{at}.type: {kind!r} is not one of {', '.join(KINDS)}")
        if kind == "numeric":
            fields.append(Field(name))
        elif kind == "categorical":
            categories = item.get("categories")
            if (not isinstance(categories, list) or not all(isinstance(c, str) and c for c in categories)
                    or len(set(categories)) != len(categories)):
                raise ValueError(f"{at}.categories: must be a list of unique non-empty strings")
            unseen = item.get("unseen", "other")
            if unseen not in UNSEEN_POLICIES:
                raise ValueError(f"{at}.unseen: must be one of {', '.join(UNSEEN_POLICIES)}")
            fields.append(Field(name, kind, categories=tuple(categories), unseen=unseen))
        else:
            if item.get("tokenizer") != TOKENIZER_VERSION:
                raise ValueError(f"{at}.tokenizer: {item.get('tokenizer')!r} is not the tokenizer "
                                 f"this version runs ({TOKENIZER_VERSION}); prepare and train again")
            vocabulary = item.get("vocabulary")
            if (not isinstance(vocabulary, list) or not vocabulary
                    or not all(isinstance(t, str) and t for t in vocabulary)
                    or len(set(vocabulary)) != len(vocabulary)):
                raise ValueError(f"{at}.vocabulary: must be a non-empty list of unique tokens")
            values = item.get("values", "counts")
            if values not in ("counts", "binary"):
                raise ValueError(f"{at}.values: must be counts or binary")
            max_chars = item.get("max_chars", DEFAULT_MAX_CHARS)
            stop_words = item.get("stop_words", False)
            if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 1:
                raise ValueError(f"{at}.max_chars: must be a positive integer")
            if not isinstance(stop_words, bool):
                raise ValueError(f"{at}.stop_words: must be true or false")
            fields.append(Field(name, kind, vocabulary=tuple(vocabulary), binary=values == "binary",
                                stop_words=stop_words, max_chars=max_chars))
    return tuple(fields)


def parse_spec(data: Any, where: str = "input") -> InputSpec:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be an object with format and fields")
    fmt = data.get("format", "csv")
    if fmt not in FORMATS:
        raise ValueError(f"{where}.format: {fmt!r} is not one of {', '.join(FORMATS)}")
    return InputSpec(parse_fields(data.get("fields"), f"{where}.fields"), fmt)


# ------------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class FitOptions:
    max_categories: int = DEFAULT_MAX_CATEGORIES
    min_category_count: int = DEFAULT_MIN_CATEGORY_COUNT
    unseen: str = "other"
    vocabulary_size: int = DEFAULT_VOCABULARY_SIZE
    min_document_count: int = DEFAULT_MIN_DOCUMENT_COUNT
    binary: bool = False
    stop_words: bool = False
    max_chars: int = DEFAULT_MAX_CHARS


# Distinct categories or tokens a fitter counts exactly; beyond twice this it prunes (see
# TopCounter). Generous next to the kept sizes (50 categories, 5000 tokens by default).
COUNTER_CAPACITY = 50_000


class TopCounter:
    """Counts keys in bounded memory, for the top-N of a column bigger than memory.

    Misra-Gries with batched decrements: when more than ``2 * capacity`` keys are held, the
    (capacity+1)-th largest count is subtracted from every count and the keys at zero or below
    are dropped. While a column has at most ``2 * capacity`` distinct keys nothing is ever
    dropped and every count is exact (so small data fits exactly as before). Otherwise every key
    that occurs more than n / (capacity + 1) times (n: the keys added: categories, or one per
    distinct token of each text) is kept, with a count at most that much too low, and memory
    stays at ``2 * capacity + 1`` keys whatever n is.
    """

    def __init__(self, capacity: int = COUNTER_CAPACITY) -> None:
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.pruned = False  # counts are lower bounds once anything was dropped

    def update(self, keys: Iterable[str]) -> None:
        counts, limit = self.counts, 2 * self.capacity
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
            if len(counts) > limit:  # checked per key: the result does not depend on batches
                counts = self._prune()

    def _prune(self) -> dict[str, int]:
        cut = sorted(self.counts.values(), reverse=True)[self.capacity]
        self.counts = {k: n - cut for k, n in self.counts.items() if n > cut}
        self.pruned = True
        return self.counts

    def ranked(self, minimum: int, limit: int) -> list[str]:
        """The keys counted ``minimum`` times or more, most frequent first, ties by key (the same
        data always gives the same columns), at most ``limit``."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return [key for key, n in ranked if n >= minimum][:limit]


class FieldFitter:
    """A field's encoding fitted on the train split's raw values, given in batches (``add_all``):
    ``prepare`` streams them chunk by chunk; ``fit_field`` is the one-shot form."""

    def __init__(self, name: str, kind: str, options: FitOptions,
                 capacity: int = COUNTER_CAPACITY) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        self.name, self.kind, self.options = name, kind, options
        self.counter = TopCounter(max(capacity, 10 * max(options.max_categories,
                                                          options.vocabulary_size)))

    def add_all(self, values: Iterable[Any]) -> None:
        name, options = self.name, self.options
        if self.kind == "categorical":
            self.counter.update(c for c in (category_of(v, name) for v in values) if c is not None)
        elif self.kind == "text":
            update = self.counter.update
            for value in values:
                text = text_of(value, name, options.max_chars)
                if text is not None:
                    update(set(tokenize(text, options.stop_words)))  # document counts

    def field(self) -> Field:
        name, options = self.name, self.options
        if self.kind == "numeric":
            return Field(name)
        if self.kind == "categorical":
            kept = self.counter.ranked(options.min_category_count, options.max_categories)
            return Field(name, self.kind, categories=tuple(kept), unseen=options.unseen)
        vocabulary = self.counter.ranked(options.min_document_count, options.vocabulary_size)
        if not vocabulary:
            raise EncodingError(name, "empty_vocabulary",
                                f"no token appears in {options.min_document_count} or more training "
                                "rows; lower the minimum document count or treat the field as categorical")
        return Field(name, self.kind, vocabulary=tuple(vocabulary), binary=options.binary,
                     stop_words=options.stop_words, max_chars=options.max_chars)


def fit_field(name: str, kind: str, values: Sequence[Any], options: FitOptions) -> Field:
    """The field's encoding fitted on ``values`` (the train split's raw values only)."""
    fitter = FieldFitter(name, kind, options)
    fitter.add_all(values)
    return fitter.field()


def choose_format(fields: tuple[Field, ...], sample: Sequence[Mapping[str, Any]]) -> str:
    """The smaller format for ``sample`` (raw rows of the train split): libsvm wins for wide,
    mostly empty inputs (bags of words), CSV for narrow dense ones."""
    sizes = {}
    for fmt in FORMATS:
        encode = Encoder(InputSpec(fields, fmt)).encode
        # The lines' lengths: each line's newline adds the same to both formats.
        sizes[fmt] = sum(len(encode(row, text=True)) for row in sample)
    return "libsvm" if sizes["libsvm"] < sizes["csv"] else "csv"  # a tie: CSV


# ------------------------------------------------------------------------------- encoding

Part = Callable[[Any], str]  # a raw value -> the field's part of the line ("" = nothing)


class Encoder:
    """Raw rows -> lines of the spec's format (no label), identical in ``prepare`` and the Lambda.

    ``encode(row, text=...)``: ``row`` maps field names to raw values (a missing key is a missing
    value); ``text=True`` when the values came as CSV text (numbers still to parse), False for
    JSON values (a string where a number belongs is then the wrong kind). Raises EncodingError.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.libsvm = spec.format == "libsvm"
        parts_text, parts_json = [], []  # (field name, its part), in the spec's order
        offset = 1 if self.libsvm else 0
        for f in spec.fields:
            part = self._part(f, offset, text=True)
            parts_text.append((f.name, part))
            # Only numbers are read differently from CSV text and from JSON.
            parts_json.append((f.name, self._part(f, offset, text=False) if f.kind == "numeric" else part))
            offset += f.width
        self.width = offset + 1 if self.libsvm else offset  # columns of a line
        self._end = f"{offset}:1"
        self._parts = {True: tuple(parts_text), False: tuple(parts_json)}

    def encode(self, row: Mapping[str, Any], *, text: bool) -> str:
        get = row.get
        if self.libsvm:
            out = ["0:1"]
            for name, part in self._parts[text]:
                piece = part(get(name))
                if piece:
                    out.append(piece)
            out.append(self._end)
            return " ".join(out)
        return ",".join([part(get(name)) for name, part in self._parts[text]])

    def _part(self, f: Field, offset: int, *, text: bool) -> Part:
        name, libsvm = f.name, self.libsvm
        if f.kind == "numeric":
            prefix = f"{offset}:"

            def numeric(value: Any) -> str:
                number = number_of(value, name, text=text)
                if number is None:
                    return ""
                return prefix + repr(number) if libsvm else repr(number)

            return numeric
        if f.kind == "categorical":
            return self._categorical(f, offset)
        return self._text(f, offset)

    def _categorical(self, f: Field, offset: int) -> Part:
        name, width, reject = f.name, f.width, f.unseen == "reject"
        if self.libsvm:
            pieces = {c: f"{offset + i}:1" for i, c in enumerate(f.categories)}
            other, missing = f"{offset + width - 1}:1", ""
        else:
            def one_hot(i: int) -> str:
                return ",".join("1" if j == i else "0" for j in range(width))

            pieces = {c: one_hot(i) for i, c in enumerate(f.categories)}
            other, missing = one_hot(width - 1), "," * (width - 1)
        known = ", ".join(f.categories[:10]) + (", ..." if len(f.categories) > 10 else "")

        def categorical(value: Any) -> str:
            piece = pieces.get(value) if value.__class__ is str else None
            if piece is not None:
                return piece
            category = category_of(value, name)
            if category is None:
                return missing
            piece = pieces.get(category)
            if piece is not None:
                return piece
            if reject:
                raise EncodingError(name, "unseen_category",
                                    f"{category!r} is not a category the model knows ({known})")
            return other

        return categorical

    def _text(self, f: Field, offset: int) -> Part:
        name, max_chars, binary = f.name, f.max_chars, f.binary
        counts_of = column_counts(f.vocabulary, offset, f.stop_words)
        if self.libsvm:
            ones = [f"{j}:1" for j in range(offset + f.width)]  # most tokens occur once in a text

            def bag(value: Any) -> str:  # no text and empty text are the same: no tokens
                if value.__class__ is not str or len(value) > max_chars:
                    value = text_of(value, name, max_chars)  # None, or raises
                if not value:
                    return ""
                counts = counts_of(value)
                # Columns in ascending order, as libsvm readers (scikit-learn's) require.
                if binary:
                    return " ".join([ones[j] for j in sorted(counts)])
                return " ".join([ones[j] if (n := counts[j]) == 1 else f"{j}:{n}"
                                 for j in sorted(counts)])

            return bag
        width, zeros = f.width, ",".join(["0"] * f.width)

        def dense(value: Any) -> str:
            text = text_of(value, name, max_chars)
            if not text:
                return zeros
            cells = ["0"] * width
            for j, n in counts_of(text).items():
                cells[j - offset] = "1" if binary else str(n)
            return ",".join(cells)

        return dense


# ------------------------------------------------------------------------------- raw rows as text


def raw_cell(value: Any) -> str:
    """A raw value as CSV text that encodes (``text=True``) to what the value encodes to."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def json_row(spec: InputSpec, cells: Sequence[str]) -> dict[str, Any]:
    """A raw CSV row (fields in spec order) as the JSON object a client sends: numbers as
    numbers, missing values as null. Encodes (``text=False``) to what the cells encode to."""
    row: dict[str, Any] = {}
    for f, cell in zip(spec.fields, cells, strict=True):
        if f.kind == "numeric":
            row[f.name] = number_of(cell, f.name, text=True)
        elif f.kind == "categorical":
            row[f.name] = category_of(cell, f.name)
        else:
            row[f.name] = cell
    return row


def numeric_spec(names: Sequence[str]) -> InputSpec:
    """The spec of a model whose fields are all numbers, read as CSV (schema 1 manifests)."""
    return InputSpec(tuple(Field(name) for name in names), "csv")
