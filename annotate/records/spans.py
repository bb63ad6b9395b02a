"""Span shape: edge whitespace/punctuation (``edge_fix``) and alignment with a spaCy tokenizer.

Both are pure functions of a text and a span's offsets; the record checks use them for the
W140 and W141 warnings.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right

from annotate.errors import ConfigError

# Characters that may never start or end a span; brackets and quotes are allowed when balanced.
_OPENERS = {"(": ")", "[": "]", "{": "}", "“": "”", "‘": "’", "«": "»", "‹": "›"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_SYMMETRIC_QUOTES = {'"', "'", "`"}
# A trailing full stop is part of these words (Gen. Votel, Acme Inc.).
_ABBREVIATIONS = frozenset(
    "Inc Ltd Co Corp Jr Sr St Gen Col Lt Mr Mrs Ms Dr Prof Sgt Capt Maj Adm Gov Sen Rep Bros Mt No "
    "vs etc Ave Dept Univ Assn Brig Cmdr Cpl Pvt Rev Hon Esq Ft "
    "Jan Feb Mar Apr Aug Sep Sept Oct Nov Dec".split()
)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _edge_ok_start(span: str) -> bool:
    ch = span[0]
    if ch.isspace():
        return False
    if not _is_punct(ch):
        return True
    if ch in _OPENERS:
        return _OPENERS[ch] in span[1:]
    if ch in _SYMMETRIC_QUOTES:
        return span.count(ch) % 2 == 0
    # Leading #, @, & and the like are part of names and handles; other punctuation is not.
    return ch in "#@&¿¡"


def _edge_ok_end(span: str) -> bool:
    ch = span[-1]
    if ch.isspace():
        return False
    if not _is_punct(ch):
        return True
    if ch in _CLOSERS:
        return _CLOSERS[ch] in span[:-1]
    if ch in _SYMMETRIC_QUOTES:
        return span.count(ch) % 2 == 0
    if ch == ".":
        body = span[:-1]
        word = re.split(r"[^\w.]", body)[-1] if body else ""
        # U.S. / a.m.: a dotted abbreviation; J.: an initial; Inc.: a known abbreviation.
        return "." in word or (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS
    return ch == "%"  # 50%


def edge_fix(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Return the span with edge whitespace/punctuation stripped, or None if the edges are fine.

    The result may be empty (``start == end``) when the span is all whitespace or punctuation.
    """
    if text[start].isalnum() and text[end - 1].isalnum():
        return None  # the common case, decided without slicing
    s, e = start, end
    while s < e and not _edge_ok_start(text[s:e]):
        s += 1
    while s < e and not _edge_ok_end(text[s:e]):
        e -= 1
    # Stripping the end may have unbalanced a kept opener at the start, and vice versa.
    while s < e and not (_edge_ok_start(text[s:e]) and _edge_ok_end(text[s:e])):
        if not _edge_ok_start(text[s:e]):
            s += 1
        else:
            e -= 1
    return None if (s, e) == (start, end) else (s, e)


_NON_WS = re.compile(r"\S+")
_CHUNK_TAIL = re.compile(r"\S*\Z")  # the non-whitespace run that ends a window


class TokenAligner:
    """Token boundaries of a spaCy tokenizer, computed per whitespace-delimited chunk.

    spaCy splits text on whitespace first and tokenizes each chunk on its own, so the
    boundaries inside one chunk do not depend on the rest of the document. Tokenizing only
    the chunks at a span's edges (cached) is what makes the check cheap.
    """

    _instances: dict[str, TokenAligner] = {}

    def __init__(self, lang: str) -> None:
        try:
            import spacy

            self.tokenizer = spacy.blank(lang).tokenizer
        except (ImportError, OSError, ValueError) as e:  # unknown language code
            raise ConfigError(f"cannot build a spaCy tokenizer for language {lang!r}: {e}") from None
        self.lang = lang
        self._cache: dict[str, tuple[list[int], list[int]]] = {}

    @classmethod
    def for_lang(cls, lang: str) -> TokenAligner:
        """Return the shared aligner of ``lang`` (spaCy's blank pipeline is built once)."""
        if lang not in cls._instances:
            cls._instances[lang] = cls(lang)
        return cls._instances[lang]

    def _chunk_bounds(self, chunk: str) -> tuple[list[int], list[int]]:
        b = self._cache.get(chunk)
        if b is None:
            doc = self.tokenizer(chunk)
            b = ([t.idx for t in doc], [t.idx + len(t) for t in doc])
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[chunk] = b
        return b

    @staticmethod
    def _chunk_at(text: str, pos: int) -> tuple[int, int]:
        """Return (start, end) of the non-whitespace run holding ``text[pos]``.

        Scanning from ``pos`` to the nearest whitespace on either side costs the length of
        one word, where listing every chunk of the text costs the whole text.
        """
        m = _NON_WS.match(text, pos)
        end = m.end() if m is not None else pos + 1
        # Search backwards in growing windows (re has no reverse search): in a text without
        # spaces (Chinese, Japanese) the chunk is the whole text, and a char loop would crawl.
        width = 64
        while True:
            lo = max(0, pos - width)
            w = _CHUNK_TAIL.search(text, lo, pos)
            s = w.start() if w is not None else pos
            if s > lo or lo == 0 or text[lo - 1].isspace():
                return s, end
            width *= 4

    def _doc_bounds(self, text: str) -> tuple[list[int], list[int]]:
        doc = self.tokenizer(text)
        return [t.idx for t in doc], [t.idx + len(t) for t in doc]

    def alignment(
        self, text: str, start: int, end: int
    ) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
        """Return None if ``[start, end)`` is token-aligned, else ``(expand, contract)``.

        ``expand`` is the smallest aligned span holding it, ``contract`` the largest aligned
        span inside it (None when there is none).
        """
        n = len(text)
        if text[start].isspace() or text[end - 1].isspace():
            # Whitespace runs become tokens in spaCy; use the whole document there.
            starts, ends = self._doc_bounds(text)
            return _align(starts, ends, start, end, 0, n)
        if (start == 0 or text[start - 1].isspace()) and (end == n or text[end].isspace()):
            return None  # both edges at whitespace: always token boundaries
        # The chunk (maximal non-whitespace run) around each edge.
        cs, ce = self._chunk_at(text, start)
        es, ee = (cs, ce) if end <= ce else self._chunk_at(text, end - 1)
        s_starts, _ = self._chunk_bounds(text[cs:ce]) if start != cs else ([0], [])
        _, e_ends = self._chunk_bounds(text[es:ee]) if end != ee else ([], [ee - es])
        start_ok = (start - cs) in s_starts
        end_ok = (end - es) in e_ends
        if start_ok and end_ok:
            return None
        # Expand: nearest boundary outward. Contract: nearest boundary inward, or the next
        # (previous) chunk when the edge is in the chunk's last (first) token.
        if start_ok:
            xs = cts = start
        else:
            i = bisect_right(s_starts, start - cs) - 1
            xs = cs + s_starts[i]
            j = bisect_left(s_starts, start - cs)
            if j < len(s_starts):
                cts = cs + s_starts[j]
            else:
                # The start of the next chunk, or the end of the text.
                m = _NON_WS.search(text, ce)
                cts = m.start() if m is not None else n
        if end_ok:
            xe = cte = end
        else:
            j = bisect_left(e_ends, end - es)
            xe = es + e_ends[j] if j < len(e_ends) else ee
            i = bisect_right(e_ends, end - es) - 1
            if i >= 0:
                cte = es + e_ends[i]
            else:
                # The end of the previous chunk, or the start of the text.
                cte = es
                while cte > 0 and text[cte - 1].isspace():
                    cte -= 1
        contract = (cts, cte) if cts < cte else None
        return (xs, xe), contract


def _align(
    starts: list[int], ends: list[int], start: int, end: int, lo: int, hi: int
) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
    if start in starts and end in ends:
        return None
    i = bisect_right(starts, start) - 1
    xs = starts[i] if i >= 0 else lo
    j = bisect_left(starts, start)
    cts = starts[j] if j < len(starts) else hi
    j = bisect_left(ends, end)
    xe = ends[j] if j < len(ends) else hi
    i = bisect_right(ends, end) - 1
    cte = ends[i] if i >= 0 else lo
    return (xs, xe), ((cts, cte) if cts < cte else None)
