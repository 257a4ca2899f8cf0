"""How fast alternatives are ranked from a shop's index: `python -m bench.alternatives`.

Why: alternatives are ranked inside webhook processing (a new backorder) and on product pages,
so a query must take milliseconds on a large catalogue, and the index that makes it so must fit
a worker's memory. Synthetic but realistic catalogues of 10,000, 100,000 and 300,000 variants
(products with 3-12 colour x size variants; product types, vendors, tags and titles from word
lists; a third of variants out of stock) are indexed in memory (`AlternativesIndex.build`, as a
process does from the `alternative_features` rows), then:

- build: seconds to index every variant; memory: bytes held by the items and the index,
  measured with tracemalloc (numpy reports its buffers to it) from before the items are made;
- query: top-10 `rank` for random variants, p50 and p95 in milliseconds;
- brute force: `brute_force`, the plain-Python `explain` over every candidate, on a subset of the
  same queries; speed-up = brute-force p50 / index p50; agreement = fraction of those queries
  whose top 10 (ids and order) is identical.

Progress goes to stderr; stdout gets one JSON line. `--quick` runs small sizes for a smoke test.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from typing import Any

from connector.domain.alternatives import AlternativesIndex, Item, brute_force, term_counts


def _list(text: str) -> list[str]:
    return text.split()


TYPES = [
    f"{a} {b}"
    for a in ("Running", "Hiking", "Casual", "Formal", "Kids", "Outdoor", "Winter", "Summer")
    for b in ("Shoes", "Jackets", "Shirts", "Trousers", "Bags", "Hats", "Socks", "Gloves")
]
ADJECTIVES = _list(
    "classic light waterproof breathable warm slim relaxed rugged soft durable vintage modern "
    "technical packable insulated stretch quick-dry organic recycled heritage"
)
MATERIALS = _list("cotton merino wool linen leather nylon fleece denim canvas suede down silk")
WORDS = _list(
    "comfort support grip outsole lining pocket zip hood collar seam stitch fabric weave knit "
    "trail road city travel commute weekend mountain beach forest rain snow wind sun layer "
    "fit cut shape style colour finish detail trim buckle lace sole heel toe arch cushion "
    "weight warmth cool dry fresh odour care wash iron store pack fold roll hang season year"
)
TAGS = [f"tag-{n}" for n in range(200)]
COLOURS = _list("Black White Navy Red Green Grey Blue Olive Sand Brown Pink Yellow")
SIZES = _list("XS S M L XL XXL")
VENDORS = [f"Vendor {n}" for n in range(300)]
GOALS = {"p95_ms_100k": 20.0, "speedup_100k": 10.0, "agreement": 0.95, "memory_mb_300k": 500.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def catalogue(variants: int, seed: int) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    product = 0
    while len(items) < variants:
        product += 1
        kind = rng.choice(TYPES)
        noun = kind.split()[1].lower()
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {noun} {rng.choice(WORDS)}"
        description = " ".join(rng.choices(WORDS, k=14))
        terms = term_counts(title, description)
        tags = tuple(sorted(set(rng.sample(TAGS, rng.randint(2, 6)))))
        vendor = rng.choice(VENDORS)
        base = rng.choice((15, 25, 40, 60, 90, 130, 200))
        count = min(rng.randint(3, 12), variants - len(items))
        combos = [(c, s) for c in rng.sample(COLOURS, 3) for s in rng.sample(SIZES, 4)]
        for colour, size in combos[:count]:
            variant_id = len(items) + 1
            items.append(
                Item(
                    variant_id=variant_id,
                    product_id=product,
                    pool=f"item:{variant_id}",
                    price=round(base * rng.uniform(0.9, 1.1), 2),
                    available=0 if rng.random() < 0.33 else rng.randint(1, 50),
                    active=rng.random() > 0.03,
                    product_type=kind,
                    vendor=vendor,
                    tags=tags,
                    options=(("colour", colour), ("size", size)),
                    terms=dict(terms),  # each variant's own, as loaded from its row
                )
            )
    return items


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_size(size: int, queries: int, brute: int, seed: int) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    items = catalogue(size, seed)
    index = AlternativesIndex.build(items)
    memory = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del index
    gc.collect()
    started = time.perf_counter()
    index = AlternativesIndex.build(items)
    build = time.perf_counter() - started
    log(f"{size:>7} variants: built in {build:.2f} s, {memory / 2**20:.0f} MiB")
    rng = random.Random(seed + 1)
    sample = [rng.choice(items).variant_id for _ in range(queries)]
    index.rank(sample[0], limit=10)  # IDF and norms are computed once, at the first query
    times, results = [], {}
    for variant_id in sample:
        started = time.perf_counter()
        ranked = index.rank(variant_id, limit=10, band_pct=25)
        times.append((time.perf_counter() - started) * 1000)
        results[variant_id] = [(a.variant_id, a.score) for a in ranked]
    idf = index.idf()
    brute_times, agree = [], 0
    for variant_id in sample[:brute]:
        query = index.item(variant_id)
        assert query is not None
        started = time.perf_counter()
        expected = brute_force(index.items, query, quantity=1, limit=10, idf=idf, band_pct=25)
        brute_times.append((time.perf_counter() - started) * 1000)
        agree += [v for v, _ in expected] == [v for v, _ in results[variant_id]]
    figures = {
        "variants": size,
        "build_s": round(build, 3),
        "memory_mb": round(memory / 2**20, 1),
        "query_p50_ms": round(statistics.median(times), 3),
        "query_p95_ms": round(percentile(times, 95), 3),
        "brute_p50_ms": round(statistics.median(brute_times), 1),
        "brute_p95_ms": round(percentile(brute_times, 95), 1),
        "speedup": round(statistics.median(brute_times) / statistics.median(times), 1),
        "agreement": round(agree / len(brute_times), 3),
        "queries": queries,
        "brute_queries": len(brute_times),
    }
    log(f"{size:>7} variants: {json.dumps(figures)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small catalogues, few queries")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    plan = (
        [(2_000, 100, 20), (10_000, 100, 20)]
        if args.quick
        else [
            (10_000, 500, 50),
            (100_000, 500, 30),
            (300_000, 300, 15),
        ]
    )
    results = [run_size(size, q, b, args.seed) for size, q, b in plan]
    by_size = {r["variants"]: r for r in results}
    figures: dict[str, Any] = {
        "benchmark": "alternatives",
        "memory": "tracemalloc, items and index",
        "sizes": results,
        "goals": GOALS,
    }
    if not args.quick:
        figures["goals_met"] = {
            "p95_ms_100k": by_size[100_000]["query_p95_ms"] < GOALS["p95_ms_100k"],
            "speedup_100k": by_size[100_000]["speedup"] >= GOALS["speedup_100k"],
            "agreement": min(r["agreement"] for r in results) >= GOALS["agreement"],
            "memory_mb_300k": by_size[300_000]["memory_mb"] < GOALS["memory_mb_300k"],
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
