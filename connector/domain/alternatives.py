"""Alternatives: rank the in-stock variants a shopper would take instead of one that is short.

Each candidate earns points for signals a merchant would name — another option of the same
product, same product type, same vendor, shared tags, similar title and description text
(TF-IDF cosine: words every product has, stop words and the shop's own name weigh nothing),
price within the shop's band, and being bought together with or instead of the original in past
orders. Options that decide fit (size, width, voltage, model...) must match for a candidate to
rank above one that matches them: a blue shoe in 42 is replaced by the black one in 42 before the
blue one in 43. Ties are broken by price distance, then variant id, so a ranking is the same
wherever and whenever it is computed.

`explain` scores one candidate in plain Python and says why; `AlternativesIndex` holds a shop's
catalogue as column arrays and scores every candidate at once with numpy, for the millisecond
budget of a webhook. `brute_force` is `explain` over every item: the reference the index must
agree with (tests and `bench.alternatives` check that it does).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

UNLIMITED = 1 << 40  # stock the store does not count: it covers any quantity
DEFAULT_FIT_OPTIONS = frozenset(
    {"size", "shoe size", "fit", "width", "length", "inseam", "voltage", "plug", "model", "gauge"}
)
STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        """a an and are as at be but by for from has have in into is it its of on or our so than
    that the their then there these this those to too very was we were what when which while
    who will with you your new best great perfect ideal made make every all more most one two
    per also just only other our up out over under""",
    )
)
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z]")


@dataclass(frozen=True)
class Weights:
    same_product: float = 3.0
    product_type: float = 1.0
    vendor: float = 0.5
    tags: float = 1.0
    text: float = 2.0
    price: float = 0.5
    together: float = 1.0
    instead: float = 1.5
    # Larger than every other signal together: a fit match always outranks a fit conflict.
    fit: float = 11.0
    history_saturation: int = 3  # this many orders give a history signal its full weight

    # A candidate needs at least this many points (half a vendor match) to be offered at all.
    minimum_points: float = 0.25

    def maximum(self, fit_matters: bool) -> float:
        """The most points a candidate can earn; fit counts only where the original has one."""
        return (self.fit if fit_matters else 0.0) + (
            self.same_product
            + self.product_type
            + self.vendor
            + self.tags
            + self.text
            + self.price
            + self.together
            + self.instead
        )


WEIGHTS = Weights()


def words(text: str, ignore: Iterable[str] = ()) -> list[str]:
    """Lower-case words of a title or description, stop words and `ignore` left out."""
    skip = STOP_WORDS | frozenset(ignore)
    return [
        w for w in _WORD.findall(text.lower()) if w not in skip and not w.isdigit() and len(w) > 1
    ]


def term_counts(title: str, description: str) -> dict[str, int]:
    """A variant's text as term counts; the title counts twice, it says what the thing is."""
    counts = Counter(words(title))
    counts.update(counts)
    counts.update(words(re.sub(r"<[^>]+>", " ", description)))
    return dict(sorted(counts.items()))


def shop_words(*names: str) -> frozenset[str]:
    """The shop's own name and domain: on every product page, so they say nothing."""
    found: set[str] = set()
    for name in names:
        found |= set(_WORD.findall(name.lower().split(".myshopify.com")[0]))
    return frozenset(found - {"www", "com", "shop", "store"})


@dataclass(frozen=True)
class Item:
    """One variant as the ranking sees it; `available` is its stock pool's, for sale now."""

    variant_id: int
    product_id: int
    pool: str
    price: float
    available: int
    active: bool
    product_type: str = ""
    vendor: str = ""
    tags: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    terms: Mapping[str, int] = field(default_factory=dict)

    def option(self, name: str) -> str | None:
        for key, value in self.options:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class History:
    """How often customers bought a candidate with the original, or instead of it."""

    together: int = 0
    instead: int = 0


@dataclass(frozen=True)
class Alternative:
    variant_id: int
    score: float
    reasons: tuple[str, ...]
    pinned: bool = False


def norm_key(value: str) -> str:
    return " ".join(value.lower().split())


def _fit(query: Item, candidate: Item, fit_options: frozenset[str]) -> tuple[bool, list[str]]:
    """(matches, what matched): every fit option both carry is equal, and there is one."""
    matched: list[str] = []
    for name, value in query.options:
        if name not in fit_options:
            continue
        theirs = candidate.option(name)
        if theirs is None:
            continue
        if norm_key(theirs) != norm_key(value):
            return False, []
        matched.append(f"{name} {value}")
    return bool(matched), matched


def in_band(original: float, price: float, band_pct: int) -> bool:
    return abs(price - original) <= original * band_pct / 100 + 1e-9


def _history_points(history: History, weights: Weights) -> float:
    cap = weights.history_saturation
    return (
        weights.together * min(history.together, cap) / cap
        + weights.instead * min(history.instead, cap) / cap
    )


def explain(
    query: Item,
    candidate: Item,
    *,
    idf: Mapping[str, float],
    band_pct: int,
    history: History = History(),
    ignore: frozenset[str] = frozenset(),
    fit_options: frozenset[str] = DEFAULT_FIT_OPTIONS,
    weights: Weights = WEIGHTS,
) -> tuple[float, list[str]]:
    """The candidate's score (0..1) and the reasons a shopper would be told."""
    points = 0.0
    reasons: list[str] = []
    if candidate.product_id == query.product_id:
        points += weights.same_product
        differs = [f"{n} {v}" for n, v in candidate.options if query.option(n) != v]
        reasons.append("same style" + (", " + ", ".join(differs) if differs else ""))
    fits, matched = _fit(query, candidate, fit_options)
    if fits:
        points += weights.fit
        reasons.append("same " + ", ".join(matched))
    if query.product_type and norm_key(candidate.product_type) == norm_key(query.product_type):
        points += weights.product_type
        reasons.append(f"also {query.product_type}")
    if query.vendor and norm_key(candidate.vendor) == norm_key(query.vendor):
        points += weights.vendor
        reasons.append(f"same brand: {query.vendor}")
    shared = sorted(set(query.tags) & set(candidate.tags))
    if shared:
        points += weights.tags * len(shared) / len(set(query.tags) | set(candidate.tags))
        reasons.append("shared tags: " + ", ".join(shared[:3]))
    similarity = text_similarity(query.terms, candidate.terms, idf, ignore)
    if similarity > 0:
        points += weights.text * similarity
        if similarity >= 0.2:
            reasons.append("similar title and description")
    if in_band(query.price, candidate.price, band_pct):
        points += weights.price
        reasons.append(f"price within {band_pct}% of the original")
    if history.together or history.instead:
        points += _history_points(history, weights)
        if history.instead:
            plural = "s" if history.instead > 1 else ""
            reasons.append(f"chosen instead by {history.instead} customer{plural} who waited")
        if history.together:
            plural = "s" if history.together > 1 else ""
            reasons.append(f"bought together in {history.together} order{plural}")
    return round(points / weights.maximum(_fit_matters(query, fit_options)), 6), reasons


def _fit_matters(query: Item, fit_options: frozenset[str]) -> bool:
    return any(name in fit_options for name, _ in query.options)


def offered(
    score: float,
    query: Item,
    weights: Weights = WEIGHTS,
    *,
    fit_options: frozenset[str] = DEFAULT_FIT_OPTIONS,
) -> bool:
    """Whether a score is enough to offer the candidate at all (it shares a real signal)."""
    return score * weights.maximum(_fit_matters(query, fit_options)) >= weights.minimum_points


def _weights_of(terms: Mapping[str, int], idf: Mapping[str, float], ignore: frozenset[str]):
    return {t: n * idf.get(t, 0.0) for t, n in terms.items() if t not in ignore}


def text_similarity(
    a: Mapping[str, int], b: Mapping[str, int], idf: Mapping[str, float], ignore: frozenset[str]
) -> float:
    wa, wb = _weights_of(a, idf, ignore), _weights_of(b, idf, ignore)
    dot = sum(w * wb[t] for t, w in wa.items() if t in wb)
    if not dot:
        return 0.0
    na = math.sqrt(sum(w * w for w in wa.values()))
    nb = math.sqrt(sum(w * w for w in wb.values()))
    return dot / (na * nb)


def idf_of(document_frequency: Mapping[str, int], documents: int) -> dict[str, float]:
    """Smoothed inverse document frequency; a word in every document still weighs a little."""
    return {t: math.log((1 + documents) / (1 + df)) + 1.0 for t, df in document_frequency.items()}


def is_candidate(query: Item, candidate: Item, quantity: int) -> bool:
    return (
        candidate.active
        and candidate.available >= quantity
        and candidate.pool != query.pool
        and candidate.variant_id != query.variant_id
    )


def order_key(query: Item, candidate: Item, score: float) -> tuple[float, float, int]:
    return (-score, round(abs(candidate.price - query.price), 6), candidate.variant_id)


def brute_force(
    items: Iterable[Item],
    query: Item,
    *,
    quantity: int,
    limit: int,
    idf: Mapping[str, float],
    band_pct: int,
    history: Mapping[int, History] | None = None,
    excluded: Iterable[int] = (),
    ignore: frozenset[str] = frozenset(),
) -> list[tuple[int, float]]:
    """`explain` over every item: slow, obviously right, the index's reference."""
    history = history or {}
    skip = set(excluded)
    scored = []
    for item in items:
        if item.variant_id in skip or not is_candidate(query, item, quantity):
            continue
        score, _ = explain(
            query,
            item,
            idf=idf,
            band_pct=band_pct,
            history=history.get(item.variant_id, History()),
            ignore=ignore,
        )
        if offered(score, query):
            scored.append((order_key(query, item, score), item.variant_id, score))
    scored.sort()
    return [(variant_id, score) for _, variant_id, score in scored[:limit]]


class _Codes:
    """Strings to small integers, so equality over a column is one numpy comparison."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {"": 0}

    def of(self, value: str) -> int:
        return self._codes.setdefault(value, len(self._codes))

    def get(self, value: str) -> int:
        return self._codes.get(value, -1)


class AlternativesIndex:
    """A shop's catalogue as columns; `rank` scores every candidate at once.

    Changes (`upsert`, `set_history`) are cheap: the row's columns are overwritten in place and
    its text and tags are held aside (`_stale`) until enough rows changed to be worth rebuilding
    the sparse matrices (`compact`), so no event costs a rebuild. Word weights (IDF) follow the
    current document frequencies exactly, so an index kept current by events ranks exactly as
    one built from scratch.
    """

    def __init__(
        self,
        *,
        ignore: Iterable[str] = (),
        fit_options: Iterable[str] = DEFAULT_FIT_OPTIONS,
        weights: Weights = WEIGHTS,
    ) -> None:
        self.ignore = frozenset(ignore)
        self.fit_options = frozenset(fit_options)
        self.weights = weights
        self.items: list[Item] = []
        self._row: dict[int, int] = {}
        self._capacity = 0
        self._cols: dict[str, np.ndarray] = {}
        self._fit: dict[str, np.ndarray] = {}
        self._codes = {"pool": _Codes(), "type": _Codes(), "vendor": _Codes(), "fit": _Codes()}
        self._terms = _Codes()
        self._tags = _Codes()
        self.df: Counter[str] = Counter()
        self._history: dict[int, dict[int, History]] = {}
        self._text = sparse.csc_matrix((0, 0))
        self._tag_matrix = sparse.csc_matrix((0, 0))
        self._matrix_rows = 0
        self._stale: set[int] = set()
        self._idf_cache: tuple[int, dict[str, float], np.ndarray, np.ndarray] | None = None
        self._changes = 0

    # ---- building ------------------------------------------------------------------------

    @classmethod
    def build(cls, items: Iterable[Item], **options: object) -> AlternativesIndex:
        index = cls(**options)  # type: ignore[arg-type]
        for item in items:
            index.upsert(item, compact=False)
        index.compact()
        return index

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, variant_id: int) -> bool:
        return variant_id in self._row

    def item(self, variant_id: int) -> Item | None:
        row = self._row.get(variant_id)
        return None if row is None else self.items[row]

    def _grow(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        capacity = max(1024, needed, self._capacity * 2)
        kinds = {
            "id": np.int64,
            "product": np.int64,
            "pool": np.int32,
            "price": np.float64,
            "available": np.int64,
            "active": np.bool_,
            "type": np.int32,
            "vendor": np.int32,
            "ntags": np.int32,
        }
        for name, kind in kinds.items():
            grown = np.zeros(capacity, dtype=kind)
            if name in self._cols:
                grown[: self._capacity] = self._cols[name]
            self._cols[name] = grown
        for name, column in self._fit.items():
            grown = np.full(capacity, -1, dtype=np.int32)
            grown[: self._capacity] = column
            self._fit[name] = grown
        self._capacity = capacity

    def upsert(self, item: Item, *, compact: bool = True) -> None:
        """Add or replace one variant; `compact=False` while loading many (then `compact`)."""
        row = self._row.get(item.variant_id)
        if row is None:
            row = len(self.items)
            self._grow(row + 1)
            self.items.append(item)
            self._row[item.variant_id] = row
        else:
            self.df.subtract(self.items[row].terms.keys())
            self.items[row] = item
        self.df.update(item.terms.keys())
        columns = self._cols
        columns["id"][row] = item.variant_id
        columns["product"][row] = item.product_id
        columns["pool"][row] = self._codes["pool"].of(item.pool)
        columns["price"][row] = item.price
        columns["available"][row] = item.available
        columns["active"][row] = item.active
        columns["type"][row] = self._codes["type"].of(norm_key(item.product_type))
        columns["vendor"][row] = self._codes["vendor"].of(norm_key(item.vendor))
        columns["ntags"][row] = len(set(item.tags))
        for column in self._fit.values():
            column[row] = -1
        for name, value in item.options:
            if name in self.fit_options:
                if name not in self._fit:
                    self._fit[name] = np.full(self._capacity, -1, dtype=np.int32)
                self._fit[name][row] = self._codes["fit"].of(norm_key(value))
        self._stale.add(row)
        self._idf_cache = None
        self._changes += 1
        if compact and len(self._stale) > max(1000, len(self.items) // 20):
            self.compact()

    def set_history(self, variant_id: int, other_id: int, history: History) -> None:
        self._history.setdefault(variant_id, {})[other_id] = history

    def history(self, variant_id: int) -> dict[int, History]:
        return self._history.get(variant_id, {})

    def compact(self) -> None:
        """Rebuild the sparse text and tag matrices from the rows (after many changes)."""
        rows, cols, vals, tag_rows, tag_cols = [], [], [], [], []
        for row, item in enumerate(self.items):
            for term, count in item.terms.items():
                rows.append(row)
                cols.append(self._terms.of(term))
                vals.append(count)
            for tag in set(item.tags):
                tag_rows.append(row)
                tag_cols.append(self._tags.of(tag))
        shape = (len(self.items), len(self._terms._codes))
        self._text = sparse.csc_matrix(
            (np.asarray(vals, dtype=np.float64), (rows, cols)), shape=shape
        )
        self._tag_matrix = sparse.csc_matrix(
            (np.ones(len(tag_rows)), (tag_rows, tag_cols)),
            shape=(len(self.items), len(self._tags._codes)),
        )
        self._matrix_rows = len(self.items)
        self._stale.clear()
        self._idf_cache = None

    # ---- word weights --------------------------------------------------------------------

    def idf(self) -> dict[str, float]:
        """Word weights over the shop's current catalogue, the shop's own name left out."""
        return self._idf_arrays()[0]

    def _idf_arrays(self) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """(idf by word, idf per term code, text norm per row); recomputed after a change."""
        if self._idf_cache is not None and self._idf_cache[0] == self._changes:
            return self._idf_cache[1], self._idf_cache[2], self._idf_cache[3]
        counts = {t: n for t, n in self.df.items() if n > 0 and t not in self.ignore}
        idf_map = idf_of(counts, len(self.items))
        idf = np.zeros(len(self._terms._codes))
        for term, code in self._terms._codes.items():
            if term not in self.ignore:
                idf[code] = idf_map.get(term, 0.0)
        norms = np.zeros(len(self.items))
        if self._matrix_rows:
            squared = self._text.multiply(self._text).tocsr() @ (idf[: self._text.shape[1]] ** 2)
            norms[: self._matrix_rows] = np.sqrt(squared)
        for row in self._stale:
            weights = _weights_of(self.items[row].terms, idf_map, self.ignore)
            norms[row] = math.sqrt(sum(w * w for w in weights.values()))
        self._idf_cache = (self._changes, idf_map, idf, norms)
        return idf_map, idf, norms

    # ---- ranking -------------------------------------------------------------------------

    def rank(
        self,
        variant_id: int,
        *,
        quantity: int = 1,
        limit: int = 5,
        band_pct: int = 25,
        pinned: Sequence[int] = (),
        excluded: Iterable[int] = (),
    ) -> list[Alternative]:
        """The top `limit` alternatives to `variant_id` with `quantity` units for sale.

        Pinned variants come first, in the merchant's order, when they are candidates; excluded
        ones never appear.
        """
        query = self.item(variant_id)
        if query is None or limit <= 0:
            return []
        n = len(self.items)
        c = self._cols
        mask = c["active"][:n] & (c["available"][:n] >= quantity)
        mask &= c["pool"][:n] != c["pool"][self._row[variant_id]]
        blocked = [self._row[v] for v in excluded if v in self._row]
        mask[blocked] = False
        chosen: list[int] = []
        for pin in pinned[:limit]:
            row = self._row.get(pin)
            if row is not None and mask[row] and row not in chosen:
                chosen.append(row)
        if len(chosen) < limit:
            mask[chosen] = False
            rows = np.flatnonzero(mask)
            if rows.size:
                chosen += self._top(query, rows, limit - len(chosen), band_pct)
        pins = len([r for r in chosen if self.items[r].variant_id in set(pinned)])
        return [self._alternative(query, row, band_pct, at < pins) for at, row in enumerate(chosen)]

    def _alternative(self, query: Item, row: int, band_pct: int, pinned: bool) -> Alternative:
        item = self.items[row]
        score, reasons = explain(
            query,
            item,
            idf=self._idf_arrays()[0],
            band_pct=band_pct,
            history=self.history(query.variant_id).get(item.variant_id, History()),
            ignore=self.ignore,
            fit_options=self.fit_options,
            weights=self.weights,
        )
        if pinned:
            reasons = ["recommended by the shop", *reasons]
        return Alternative(item.variant_id, score, tuple(reasons), pinned)

    def scores(self, query: Item, rows: np.ndarray, band_pct: int) -> np.ndarray:
        """Every signal of `explain`, for many rows at once (same numbers, same rounding)."""
        w = self.weights
        c = self._cols
        points = np.zeros(rows.size)
        points += w.same_product * (c["product"][rows] == query.product_id)
        kind = self._codes["type"].get(norm_key(query.product_type))
        if query.product_type and kind > 0:
            points += w.product_type * (c["type"][rows] == kind)
        vendor = self._codes["vendor"].get(norm_key(query.vendor))
        if query.vendor and vendor > 0:
            points += w.vendor * (c["vendor"][rows] == vendor)
        points += w.tags * self._tag_scores(query, rows)
        points += w.text * self._text_scores(query, rows)
        low = query.price - query.price * band_pct / 100 - 1e-9
        high = query.price + query.price * band_pct / 100 + 1e-9
        prices = c["price"][rows]
        points += w.price * ((prices >= low) & (prices <= high))
        points += w.fit * self._fit_matches(query, rows)
        history = self.history(query.variant_id)
        if history:
            position = {int(r): i for i, r in enumerate(rows)}
            for other, seen in history.items():
                at = position.get(self._row.get(other, -1))
                if at is not None:
                    points[at] += _history_points(seen, w)
        return np.round(points / w.maximum(_fit_matters(query, self.fit_options)), 6)

    def _fit_matches(self, query: Item, rows: np.ndarray) -> np.ndarray:
        shared = np.zeros(rows.size, dtype=bool)
        conflict = np.zeros(rows.size, dtype=bool)
        for name, value in query.options:
            column = self._fit.get(name) if name in self.fit_options else None
            if column is None:
                continue
            theirs = column[rows]
            carries = theirs >= 0
            shared |= carries
            conflict |= carries & (theirs != self._codes["fit"].get(norm_key(value)))
        return shared & ~conflict

    def _tag_scores(self, query: Item, rows: np.ndarray) -> np.ndarray:
        tags = sorted(set(query.tags))
        if not tags:
            return np.zeros(rows.size)
        shared = np.zeros(len(self.items))
        codes = [self._tags.get(t) for t in tags]
        codes = [code for code in codes if 0 <= code < self._tag_matrix.shape[1]]
        if codes and self._matrix_rows:
            counts = np.asarray(self._tag_matrix[:, codes].sum(axis=1)).ravel()
            shared[: self._matrix_rows] = counts
        for row in self._stale:
            shared[row] = len(set(self.items[row].tags) & set(tags))
        shared = shared[rows]
        union = self._cols["ntags"][rows] + len(tags) - shared
        return np.divide(shared, union, out=np.zeros(rows.size), where=union > 0)

    def _text_scores(self, query: Item, rows: np.ndarray) -> np.ndarray:
        idf_map, idf, norms = self._idf_arrays()
        exact = _weights_of(query.terms, idf_map, self.ignore)
        qnorm = math.sqrt(sum(v * v for v in exact.values()))
        if not qnorm:
            return np.zeros(rows.size)
        dots = np.zeros(len(self.items))
        known = [(self._terms.get(t), wq) for t, wq in exact.items()]
        known = [(code, wq) for code, wq in known if 0 <= code < self._text.shape[1]]
        if known and self._matrix_rows:
            codes = [code for code, _ in known]
            factors = np.array([wq * idf[code] for code, wq in known])
            dots[: self._matrix_rows] = self._text[:, codes] @ factors
        for row in self._stale:
            weights = _weights_of(self.items[row].terms, idf_map, self.ignore)
            dots[row] = sum(wq * weights[t] for t, wq in exact.items() if t in weights)
        dots, row_norms = dots[rows], norms[rows]
        return np.divide(dots, row_norms * qnorm, out=np.zeros(rows.size), where=row_norms > 0)

    def _top(self, query: Item, rows: np.ndarray, k: int, band_pct: int) -> list[int]:
        scores = self.scores(query, rows, band_pct)
        floor = self.weights.minimum_points / self.weights.maximum(
            _fit_matters(query, self.fit_options)
        )
        keep = scores >= floor - 1e-9
        rows, scores = rows[keep], scores[keep]
        if rows.size > k:
            threshold = np.partition(scores, rows.size - k)[rows.size - k]
            keep = scores >= threshold  # every tie at the boundary stays in
            rows, scores = rows[keep], scores[keep]
        distance = np.round(np.abs(self._cols["price"][rows] - query.price), 6)
        order = np.lexsort((self._cols["id"][rows], distance, -scores))
        return [int(r) for r in rows[order[:k]]]
