"""`seed(store)`: a realistic catalogue and order history from a fixed seed.

Apparel is variable (sizes x colours), home goods and electronics are simple. A share of the
stock is out, some allows backorders (notify/yes), some variable products manage stock on the
parent (their variations say `manage_stock: "parent"`). Records are built directly, without
notes or webhooks, so 100,000 variants build in a few seconds and 1,000 in milliseconds; the
history's stock effects are taken as already in today's stock levels.
"""

from __future__ import annotations

import random
from datetime import timedelta

from .models import LineItem, Order, Product
from .store import WooStore, _address, slugify

SIZES = ("XS", "S", "M", "L", "XL", "XXL")
COLOURS = ("Black", "White", "Navy", "Olive", "Red", "Sand", "Grey", "Teal")
APPAREL = {
    "T-shirts": ("Tee", "Organic Tee", "V-Neck Tee", "Long Sleeve Tee"),
    "Hoodies": ("Hoodie", "Zip Hoodie", "Fleece Hoodie"),
    "Jackets": ("Rain Jacket", "Down Jacket", "Softshell Jacket"),
}
SIMPLE = {
    "Home": ("Mug", "Candle", "Throw Blanket", "Cutting Board", "Vase", "Lamp", "Cushion"),
    "Electronics": ("USB-C Cable", "Headphones", "Power Bank", "Speaker", "Charger", "Webcam"),
}
ADJECTIVES = ("Classic", "Alpine", "Coastal", "Urban", "Nordic", "Summit", "Harbor", "Meadow")
STATUS_MIX = (
    ("completed", 60),
    ("processing", 22),
    ("on-hold", 5),
    ("cancelled", 6),
    ("refunded", 3),
    ("failed", 2),
    ("pending", 2),
)


def _categories() -> dict[str, dict[str, object]]:
    names = ["Clothing", *APPAREL, *SIMPLE]
    return {n: {"id": 15 + i, "name": n, "slug": slugify(n)} for i, n in enumerate(names)}


def _stock(rng: random.Random, p: Product) -> None:
    """Mostly managed stock; some out, some backorderable (notify/yes)."""
    roll = rng.random()
    p.manage_stock = True
    if roll < 0.10:
        p.stock_quantity, p.backorders = 0, "no"
    elif roll < 0.22:
        p.stock_quantity, p.backorders = rng.randint(0, 3), "notify"
    elif roll < 0.27:
        p.stock_quantity, p.backorders = rng.randint(0, 5), "yes"
    elif roll < 0.32:
        p.manage_stock, p.stock_quantity, p.stock_status = False, None, "instock"
        return
    else:
        p.stock_quantity, p.backorders = rng.randint(1, 60), "no"
    q = p.stock_quantity or 0
    p.stock_status = (
        "instock" if q > 0 else ("onbackorder" if p.backorders != "no" else "outofstock")
    )


def seed(store: WooStore, *, seed: int = 1, variants: int = 1000, orders: int = 300) -> None:
    """Fill `store` with about `variants` sellable items and `orders` past orders."""
    rng = random.Random(seed)
    cats = _categories()
    now = store.now()
    sellable: list[tuple[int, int]] = []
    by_cat: dict[str, list[int]] = {}
    with store.lock:
        made = 0
        while made < variants:
            pid = store.next_id("post")
            created = now - timedelta(days=rng.uniform(30, 400))
            modified = created + timedelta(days=rng.uniform(0, 29))
            apparel = variants - made >= 4 and rng.random() < 0.6
            group = rng.choice(list(APPAREL if apparel else SIMPLE))
            base = rng.choice(APPAREL[group] if apparel else SIMPLE[group])
            name = f"{rng.choice(ADJECTIVES)} {base}"
            price = f"{rng.choice((9, 14, 19, 24, 29, 39, 49, 79, 99, 129))}.{rng.choice(('00', '95', '99'))}"  # noqa: E501
            p = Product(
                id=pid,
                name=name,
                slug=f"{slugify(name)}-{pid}",
                type="simple",
                date_created=created,
                date_modified=modified,
                sku=f"WO-{pid:06d}",
                regular_price=price,
                description=f"<p>{name}, a {group.lower()} favourite.</p>",
                categories=[dict(cats[group])]
                if not apparel
                else [dict(cats["Clothing"]), dict(cats[group])],
                weight=f"{rng.uniform(0.1, 3):.2f}",
            )
            by_cat.setdefault(group, []).append(pid)
            if not apparel:
                _stock(rng, p)
                store.add_product(p, announce=False)
                sellable.append((pid, 0))
                made += 1
                continue
            p.type = "variable"
            sizes = SIZES[: rng.randint(3, 6)]
            colours = rng.sample(COLOURS, rng.randint(1, 4))
            combos = [(s, c) for c in colours for s in sizes][: variants - made]
            p.attributes = [
                {
                    "id": 1,
                    "name": "Size",
                    "position": 0,
                    "visible": True,
                    "variation": True,
                    "options": list(sizes),
                },
                {
                    "id": 2,
                    "name": "Color",
                    "position": 1,
                    "visible": True,
                    "variation": True,
                    "options": colours,
                },
            ]
            parent_managed = rng.random() < 0.2
            if parent_managed:
                _stock(rng, p)
                p.manage_stock = True
                p.stock_quantity = p.stock_quantity or rng.randint(0, 40)
            store.add_product(p, announce=False)
            for size, colour in combos:
                vid = store.next_id("post")
                v = Product(
                    id=vid,
                    name=f"{name} - {size}, {colour}",
                    slug="",
                    type="variation",
                    parent_id=pid,
                    date_created=created,
                    date_modified=modified,
                    sku=f"WO-{pid:06d}-{size}-{colour[:3].upper()}",
                    regular_price=price,
                    attributes=[
                        {"id": 1, "name": "Size", "option": size},
                        {"id": 2, "name": "Color", "option": colour},
                    ],
                )
                if not parent_managed:
                    _stock(rng, v)
                store.add_product(v, announce=False)
                sellable.append((pid, vid))
                made += 1
        for ids in by_cat.values():
            for pid in ids:
                store.products[pid].related_ids = rng.sample(ids, min(5, len(ids) - 1))
                if pid in store.products[pid].related_ids:
                    store.products[pid].related_ids.remove(pid)
        _orders(store, rng, sellable, orders)


def _orders(store: WooStore, rng: random.Random, sellable: list[tuple[int, int]], n: int) -> None:
    now = store.now()
    statuses = [s for s, w in STATUS_MIX for _ in range(w)]
    first = ("anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas")
    last = ("smith", "meyer", "garcia", "rossi", "dubois", "kowalski", "jensen", "silva")
    for k in range(n):
        when = now - timedelta(days=30 * (n - k) / max(n, 1), minutes=rng.randint(0, 600))
        status = rng.choice(statuses)
        email = f"{rng.choice(first)}.{rng.choice(last)}@example.com"
        items: list[LineItem] = []
        for product_id, variation_id in rng.sample(sellable, min(len(sellable), rng.randint(1, 3))):
            target = store.products[variation_id or product_id]
            item = store._line(target, product_id, variation_id, rng.choice((1, 1, 1, 2, 3)))
            item.reduced_stock = (
                item.quantity if status in ("completed", "processing", "on-hold") else 0
            )
            items.append(item)
        bill = _address(email)
        order = Order(
            id=store.next_id("post"),
            status=status,
            currency=store.settings.currency,
            date_created=when,
            date_modified=when + timedelta(hours=rng.randint(0, 48)),
            order_key=f"wc_order_{rng.getrandbits(52):013x}",
            billing=bill,
            shipping={k: v for k, v in bill.items() if k not in ("email", "phone")},
            line_items=items,
            stock_reduced=any(i.reduced_stock for i in items),
            date_paid=when if status in ("completed", "processing", "refunded") else None,
            date_completed=when + timedelta(days=2) if status == "completed" else None,
            shipping_lines=store.flat_rate_shipping(),
        )
        order.date_modified = min(order.date_modified, now)
        store.orders[order.id] = order
