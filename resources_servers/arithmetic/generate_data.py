"""Writes data/{train,validation,example}.jsonl: multi-step arithmetic word problems.

Deterministic: the same seed gives byte-identical files. Ten problem families (change
from a purchase, distance over two legs, a discount then a coupon, ...) are filled with
names, items and numbers from a seeded generator; each answer is computed here with exact
fractions, so it is right by construction. The problems are written for this repository
and licensed with it (Apache 2.0).

    python generate_data.py            # writes into data/ next to this file
    python generate_data.py --check    # fails if the files differ from what it would write
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from gymkit.datagen import generator_main

SEED = 20261123
SPLITS = {"train": 520, "validation": 100, "example": 5}
INSTRUCTION = "Give the final answer on the last line as 'Answer: ' followed by the number."

NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jon",
    "Kira",
    "Luis",
    "Maya",
    "Nils",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
ITEMS = ["pens", "notebooks", "apples", "mugs", "candles", "stickers", "batteries", "plants", "towels", "cookies"]


def _money(value: Fraction) -> str:
    return f"{float(value):.2f}"


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.2f}"


def _price(rng: random.Random, lo: int, hi: int) -> Fraction:
    return Fraction(rng.randint(lo * 4, hi * 4), 4)  # quarters: 2.25, 3.50, ...


Problem = tuple[str, str, int]  # question, answer, steps


def shop_change(rng: random.Random) -> Problem:
    name, (item1, item2) = rng.choice(NAMES), rng.sample(ITEMS, 2)
    a, b, p, q = rng.randint(2, 9), rng.randint(2, 9), _price(rng, 1, 6), _price(rng, 1, 6)
    cost = a * p + b * q
    bill = next(x for x in (20, 50, 100) if x > cost)
    question = (
        f"{name} buys {a} {item1} at ${_money(p)} each and {b} {item2} at ${_money(q)} each, "
        f"and pays with a ${bill} bill. How much change, in dollars, does {name} get?"
    )
    return question, _money(bill - cost), 4


def two_legs(rng: random.Random) -> Problem:
    s1, s2 = rng.randrange(40, 130, 5), rng.randrange(40, 130, 5)
    t1, t2 = Fraction(rng.randint(2, 10), 2), Fraction(rng.randint(2, 10), 2)
    vehicle = rng.choice(["train", "bus", "car", "ferry"])
    question = (
        f"A {vehicle} travels at {s1} km/h for {_number(t1)} hours, then at {s2} km/h for {_number(t2)} hours. "
        "How many kilometres does it travel in total?"
    )
    return question, _number(s1 * t1 + s2 * t2), 3


def savings(rng: random.Random) -> Problem:
    name = rng.choice(NAMES)
    start, weekly, weeks = rng.randint(10, 200), rng.randint(5, 40), rng.randint(3, 20)
    spent = rng.randint(5, min(150, start + weekly * weeks - 1))
    question = (
        f"{name} has ${start}. {name} saves ${weekly} every week for {weeks} weeks and then spends ${spent} "
        f"on a gift. How many dollars does {name} have left?"
    )
    return question, str(start + weekly * weeks - spent), 3


def recipe(rng: random.Random) -> Problem:
    serves = rng.choice([2, 4, 5, 6, 8])
    target = rng.choice([n for n in range(3, 31) if n != serves])
    grams = serves * rng.randint(20, 90)
    ingredient = rng.choice(["flour", "sugar", "rice", "oats", "butter"])
    question = (
        f"A recipe for {serves} people uses {grams} grams of {ingredient}. "
        f"How many grams of {ingredient} are needed for {target} people?"
    )
    return question, _number(Fraction(grams, serves) * target), 2


def crates(rng: random.Random) -> Problem:
    item = rng.choice(ITEMS)
    boxes, rows, cols, broken = rng.randint(3, 15), rng.randint(2, 8), rng.randint(2, 8), rng.randint(1, 20)
    question = (
        f"A shop receives {boxes} crates. Each crate holds {rows} rows of {cols} {item}. "
        f"{broken} of the {item} are damaged. How many undamaged {item} are there?"
    )
    return question, str(boxes * rows * cols - broken), 3


def needed_score(rng: random.Random) -> Problem:
    name = rng.choice(NAMES)
    scores = [rng.randint(55, 100) for _ in range(4)]
    target = rng.randint(max(60, (sum(scores) + 40) // 5 + 1), min(95, (sum(scores) + 100) // 5))
    listed = ", ".join(map(str, scores[:-1])) + f" and {scores[-1]}"
    question = (
        f"{name} scored {listed} on four tests. What score does {name} need on the fifth test "
        f"for an average of exactly {target} over all five?"
    )
    return question, str(5 * target - sum(scores)), 3


def discount(rng: random.Random) -> Problem:
    thing = rng.choice(["jacket", "lamp", "backpack", "chair", "kettle", "bicycle helmet"])
    price, percent = rng.randrange(40, 300, 2), rng.choice([10, 15, 20, 25, 30, 40, 50])
    coupon = rng.randint(2, 15)
    question = (
        f"A {thing} costs ${price}. It is {percent}% off, and then a ${coupon} coupon is applied to the "
        "reduced price. What is the final price in dollars?"
    )
    return question, _money(Fraction(price) * (100 - percent) / 100 - coupon), 3


def split_bill(rng: random.Random) -> Problem:
    friends, bill, tip = rng.randint(2, 8), rng.randint(30, 300), rng.choice([10, 12, 15, 18, 20])
    question = (
        f"{friends} friends share a restaurant bill of ${bill} and add a {tip}% tip. They split the total "
        "equally. How much does each friend pay, in dollars, to the nearest cent?"
    )
    return question, _money(round(Fraction(bill) * (100 + tip) / 100 / friends, 2)), 3


def ages(rng: random.Random) -> Problem:
    older, younger = rng.sample(NAMES, 2)
    age, gap, years = rng.randint(3, 40), rng.randint(1, 30), rng.randint(2, 15)
    total = 2 * age + gap + 2 * years
    question = (
        f"{older} is {gap} years older than {younger}. In {years} years the sum of their ages will be {total}. "
        f"How old is {younger} now?"
    )
    return question, str(age), 3


def fence(rng: random.Random) -> Problem:
    length, width, cost = rng.randint(4, 60), rng.randint(3, 40), _price(rng, 2, 15)
    gate = rng.choice([1, 2, 3])
    question = (
        f"A rectangular garden is {length} m long and {width} m wide. Fencing costs ${_money(cost)} per metre, "
        f"and a {gate} m gap is left for the gate. How much does the fencing cost in dollars?"
    )
    return question, _money((2 * (length + width) - gate) * cost), 3


FAMILIES: dict[str, Callable[[random.Random], Problem]] = {
    f.__name__: f
    for f in (shop_change, two_legs, savings, recipe, crates, needed_score, discount, split_bill, ages, fence)
}


def build(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """Rows for every split; no question appears twice across all of them."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    families = sorted(FAMILIES)
    for split, count in SPLITS.items():
        rows: list[dict[str, Any]] = []
        while len(rows) < count:
            family = families[len(rows) % len(families)] if split == "example" else rng.choice(families)
            question, answer, steps = FAMILIES[family](rng)
            if question in seen:
                continue
            seen.add(question)
            rows.append(
                {
                    "responses_create_params": {"input": [{"role": "user", "content": f"{question} {INSTRUCTION}"}]},
                    "expected_answer": answer,
                    "task_id": f"{split}-{len(rows):04d}",
                    "family": family,
                    "steps": steps,
                }
            )
        out[split] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    return generator_main(build, __file__, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
