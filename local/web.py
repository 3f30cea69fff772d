"""The web page: try the model in a browser, on the local API front or in front of the deployed API.

``GET /`` answers ``web/index.html``, one self-contained file (its CSS and JS inline: no CDN, no
build step). The page draws its form at run time from two JSON documents served beside it:

  ``GET /spec``     the variants (name, configured weight, their raw fields) and the union of
                    their raw fields, each with its kind, the variants that read it, the known
                    categories and the unseen policy (categorical), the length limit (text)
  ``GET /example``  one held-out raw row of the prepared test split (``?index=K``, wrapping
                    around), with its label; 404 ``no_examples`` when none were loaded

and posts to ``POST /predict`` like any client. Both documents hold what the model manifests
already publish to every caller (field names, categories); never credentials, paths or URLs
with secrets. The page's Content-Security-Policy allows its own inline script and style (by
hash) and requests to this origin only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from contract.encoding import EncodingError, InputSpec, json_row
from contract.errors import CliError
from contract.prepared import read_test_split

PAGE_FILE = Path(__file__).resolve().parent / "web" / "index.html"
PAGE_PATHS = ("/", "/index.html")
SPEC_PATH = "/spec"
EXAMPLE_PATH = "/example"

Response = tuple[int, dict[str, str], bytes]

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def json_response(status: int, document: Any) -> Response:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, \
        json.dumps(document, ensure_ascii=False).encode()


def error_response(status: int, code: str, message: str) -> Response:
    """An error in the API's shape, ``{"error": {"code", "message"}}``."""
    return json_response(status, {"error": {"code": code, "message": message}})


def page_policy(html: str) -> str:
    """The page's Content-Security-Policy: its own inline script and style, by their hashes."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    script, style = (" ".join(hashes[kind]) or "'none'" for kind in ("script", "style"))
    return ("default-src 'none'; "
            f"script-src {script}; style-src {style}; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def form_spec(variants: Sequence[tuple[str, float, InputSpec]]) -> dict[str, Any]:
    """The variants and the union of their raw fields, in the order the variants list them.

    A field read by several variants takes its kind from the first; its categories are the
    union of theirs, its unseen policy is "reject" when any variant rejects unseen categories,
    and its length limit is the smallest.
    """
    fields: dict[str, dict[str, Any]] = {}
    for name, _, spec in variants:
        for f in spec.fields:
            entry = fields.setdefault(f.name, {"name": f.name, "kind": f.kind, "variants": []})
            entry["variants"].append(name)
            if f.kind == "categorical" and entry["kind"] == "categorical":
                known = entry.setdefault("categories", [])
                known.extend(c for c in f.categories if c not in known)
                if f.unseen == "reject" or entry.get("unseen") == "reject":
                    entry["unseen"] = "reject"
                else:
                    entry["unseen"] = f.unseen
            elif f.kind == "text" and entry["kind"] == "text":
                entry["max_chars"] = min(entry.get("max_chars", f.max_chars), f.max_chars)
    return {
        "variants": [{"name": name, "weight": weight, "fields": list(spec.field_names)}
                     for name, weight, spec in variants],
        "fields": list(fields.values()),
    }


@dataclass(frozen=True)
class Example:
    row: dict[str, Any]
    label: float


@dataclass
class Examples:
    """Held-out raw rows for "fill from a test row", and why there are none when there are none."""

    rows: list[Example] = field(default_factory=list)
    source: str | None = None
    note: str | None = None  # why no rows were loaded

    @classmethod
    def load(cls, prepared_dir: str | Path | None,
             variants: Sequence[tuple[str, float, InputSpec]]) -> Examples:
        """The test split of ``prepared_dir`` when its rows fit the variants' fields: each of its
        fields is a variant's, and it holds every field of at least one variant."""
        if prepared_dir is None:
            return cls(note="no prepared data given (--prepared DIR)")
        try:
            test = read_test_split(prepared_dir)
        except CliError as error:
            return cls(note=error.problem)
        names = set(test.spec.field_names)
        union = {n for _, _, spec in variants for n in spec.field_names}
        if not names <= union or not any(set(spec.field_names) <= names for _, _, spec in variants):
            return cls(note=f"{prepared_dir} holds rows of other fields ({', '.join(test.spec.field_names)})")
        rows = []
        for cells, label in zip(test.raw_rows, test.labels, strict=False):
            try:
                rows.append(Example(json_row(test.spec, cells), label))
            except EncodingError:  # a cell the API would refuse: not an example to offer
                continue
        return cls(rows=rows, source=str(prepared_dir))


class WebApp:
    """The page and its two documents, answered by the API front or the upstream server."""

    def __init__(self, endpoint: str, variants: Sequence[tuple[str, float, InputSpec]],
                 examples: Examples | None = None, *, target: str = "the local request path",
                 page_file: Path = PAGE_FILE) -> None:
        self.examples = examples or Examples(note="no prepared data given (--prepared DIR)")
        html = page_file.read_text(encoding="utf-8")
        self.page = html.encode()
        self.policy = page_policy(html)
        self.spec = {"endpoint": endpoint, "target": target, **form_spec(variants),
                     "examples": len(self.examples.rows),
                     **({"examples_note": self.examples.note} if self.examples.note else {})}

    def get(self, raw_path: str) -> Response | None:
        """The answer to ``GET raw_path``, or None when it is not one of the page's paths."""
        url = urlsplit(raw_path)
        if url.path in PAGE_PATHS:
            return 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                         "Content-Security-Policy": self.policy, "X-Content-Type-Options": "nosniff",
                         "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}, self.page
        if url.path == SPEC_PATH:
            return json_response(200, self.spec)
        if url.path == EXAMPLE_PATH:
            return self.example(parse_qs(url.query).get("index", ["0"])[-1])
        return None

    def example(self, index_text: str) -> Response:
        rows = self.examples.rows
        if not rows:
            return error_response(404, "no_examples", f"no held-out rows to offer: {self.examples.note}")
        try:
            index = int(index_text) % len(rows)
        except ValueError:
            return error_response(400, "invalid_index", "index must be a whole number")
        example = rows[index]
        return json_response(200, {"index": index, "total": len(rows), "row": example.row,
                                   "label": example.label})
