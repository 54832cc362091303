"""Writes data/{train,validation,example}.jsonl: function-writing tasks with hidden tests.

Deterministic: the same seed gives byte-identical files. Every task is a small family
(sum of multiples, Caesar shift, ...) with its own constants, a specification in prose,
and test arguments drawn from a seeded generator; the expected values come from the
reference implementation here, so they are right by construction. The tasks are written
for this repository and licensed with it (Apache 2.0).

    python generate_data.py            # writes into data/ next to this file
    python generate_data.py --check    # fails if the committed files differ
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gymkit.datagen import generator_main

SEED = 20261123
NUM_TRAIN = 520
NUM_VALIDATION = 100
NUM_EXAMPLE = 5
TESTS_PER_TASK = 6

SYSTEM = (
    "You are a careful Python programmer. Answer with one complete Python function in a "
    "```python code block. Use only the standard library; do not read input or print."
)


@dataclass(frozen=True)
class Spec:
    family: str
    name: str
    signature: str
    text: str
    solve: Callable[..., Any]
    draw: Callable[[random.Random], list[Any]]


def _ints(rng: random.Random, n: int, lo: int = -50, hi: int = 50) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(n)).strip() or "a"


def _specs() -> Iterator[Spec]:
    for a in range(2, 13):
        for b in range(a + 1, 14):
            yield Spec(
                "sum_multiples",
                f"sum_multiples_{a}_{b}",
                "(n: int) -> int",
                f"Return the sum of all positive integers below n that are divisible by {a} or by {b}. "
                "For n <= 1 return 0.",
                lambda n, a=a, b=b: sum(i for i in range(1, n) if i % a == 0 or i % b == 0),
                lambda r: [r.randint(0, 400)],
            )
    for base in range(2, 37):
        yield Spec(
            "digit_sum",
            f"digit_sum_base{base}",
            "(n: int) -> int",
            f"Return the sum of the digits of the non-negative integer n written in base {base}.",
            lambda n, base=base: _digit_sum(n, base),
            lambda r: [r.randint(0, 10**6)],
        )
    for k in range(1, 26):
        yield Spec(
            "caesar",
            f"caesar_shift_{k}",
            "(s: str) -> str",
            f"Shift every lowercase ASCII letter in s forward by {k} places in the alphabet, wrapping from 'z' "
            "to 'a'. Leave every other character unchanged.",
            lambda s, k=k: "".join(chr((ord(c) - 97 + k) % 26 + 97) if "a" <= c <= "z" else c for c in s),
            lambda r: [_word(r, r.randint(0, 20)) + r.choice(["", "!", " 42", "AB"])],
        )
    for k in range(1, 13):
        yield Spec(
            "rotate",
            f"rotate_left_{k}",
            "(xs: list[int]) -> list[int]",
            f"Return a new list: xs rotated left by {k} positions (the first element moves to the end, {k} "
            "times). An empty list stays empty.",
            lambda xs, k=k: xs[k % len(xs) :] + xs[: k % len(xs)] if xs else [],
            lambda r: [_ints(r, r.randint(0, 8))],
        )
        yield Spec(
            "rotate",
            f"rotate_right_{k}",
            "(xs: list[int]) -> list[int]",
            f"Return a new list: xs rotated right by {k} positions (the last element moves to the front, {k} "
            "times). An empty list stays empty.",
            lambda xs, k=k: xs[-(k % len(xs)) :] + xs[: -(k % len(xs))] if xs and k % len(xs) else list(xs),
            lambda r: [_ints(r, r.randint(0, 8))],
        )
    for lo in range(-10, 1):
        for hi in (5, 10, 15, 20, 30, 50):
            yield Spec(
                "clamp",
                f"clamp_between_{abs(lo)}{'n' if lo < 0 else ''}_{hi}",
                "(xs: list[int]) -> list[int]",
                f"Return a new list where every value of xs below {lo} is replaced by {lo} and every value "
                f"above {hi} is replaced by {hi}.",
                lambda xs, lo=lo, hi=hi: [min(max(x, lo), hi) for x in xs],
                lambda r: [_ints(r, r.randint(0, 10), -80, 80)],
            )
    for d in range(2, 31):
        yield Spec(
            "count_divisible",
            f"count_divisible_by_{d}",
            "(xs: list[int]) -> int",
            f"Return how many values in xs are divisible by {d} (zero counts as divisible).",
            lambda xs, d=d: sum(1 for x in xs if x % d == 0),
            lambda r: [_ints(r, r.randint(0, 12), -100, 100)],
        )
    for a in range(1, 6):
        for b in range(-3, 4):
            for c in range(-2, 3):
                yield Spec(
                    "polynomial",
                    f"poly_{a}_{b + 3}_{c + 2}",
                    "(x: int) -> int",
                    f"Return {a}*x**2 + ({b})*x + ({c}) for the integer x.",
                    lambda x, a=a, b=b, c=c: a * x * x + b * x + c,
                    lambda r: [r.randint(-1000, 1000)],
                )
    for k in range(2, 11):
        yield Spec(
            "window",
            f"max_window_sum_{k}",
            "(xs: list[int]) -> int | None",
            f"Return the largest sum of {k} consecutive values of xs, or None if xs has fewer than {k} values.",
            lambda xs, k=k: max(sum(xs[i : i + k]) for i in range(len(xs) - k + 1)) if len(xs) >= k else None,
            lambda r: [_ints(r, r.randint(0, 10))],
        )
    for step in range(2, 9):
        for start in range(step):
            yield Spec(
                "every_kth",
                f"every_{step}th_from_{start}",
                "(xs: list[int]) -> list[int]",
                f"Return the values of xs at positions {start}, {start + step}, {start + 2 * step}, ... "
                "(0-based), in order.",
                lambda xs, step=step, start=start: xs[start::step],
                lambda r: [_ints(r, r.randint(0, 15))],
            )
    for a in range(2, 8):
        for b in range(a + 1, 12):
            yield Spec(
                "fizzbuzz",
                f"fizz_{a}_buzz_{b}",
                "(n: int) -> list[str]",
                f"Return a list for the numbers 1..n: 'FizzBuzz' if divisible by both {a} and {b}, 'Fizz' if "
                f"divisible by {a}, 'Buzz' if divisible by {b}, else the number as a string.",
                lambda n, a=a, b=b: [_fizz(i, a, b) for i in range(1, n + 1)],
                lambda r: [r.randint(0, 25)],
            )
    for ch in "abcdefghijklmnopqrstuvwxyz":
        yield Spec(
            "count_char",
            f"count_letter_{ch}",
            "(s: str) -> int",
            f"Return how many times the letter '{ch}' occurs in s, ignoring case.",
            lambda s, ch=ch: s.lower().count(ch),
            lambda r: [_word(r, r.randint(0, 30)).upper() if r.random() < 0.3 else _word(r, r.randint(0, 30))],
        )
    for p in range(1, 4):
        for q in range(2, 6):
            for c in range(1, 4):
                for m in (7, 11, 13, 97):
                    yield Spec(
                        "recurrence",
                        f"term_{p}_{q}_{c}_mod{m}",
                        "(n: int) -> int",
                        f"A sequence starts with a_0 = {p} and continues a_(i+1) = (a_i * {q} + {c}) mod {m}. "
                        "Return a_n for the non-negative integer n.",
                        lambda n, p=p, q=q, c=c, m=m: _recurrence(n, p, q, c, m),
                        lambda r: [r.randint(0, 60)],
                    )
    for k in range(1, 9):
        yield Spec(
            "long_words",
            f"count_words_longer_than_{k}",
            "(s: str) -> int",
            f"Split s on whitespace and return how many of the words have more than {k} characters.",
            lambda s, k=k: sum(1 for w in s.split() if len(w) > k),
            lambda r: [_word(r, r.randint(0, 60))],
        )
    for k in range(2, 6):
        yield Spec(
            "repeat",
            f"repeat_each_char_{k}",
            "(s: str) -> str",
            f"Return s with every character repeated {k} times, e.g. 'ab' becomes {'a' * k + 'b' * k!r}.",
            lambda s, k=k: "".join(ch * k for ch in s),
            lambda r: [_word(r, r.randint(0, 12))],
        )


def _recurrence(n: int, p: int, q: int, c: int, m: int) -> int:
    value = p
    for _ in range(n):
        value = (value * q + c) % m
    return value


def _digit_sum(n: int, base: int) -> int:
    total = 0
    while n:
        n, digit = divmod(n, base)
        total += digit
    return total


def _fizz(i: int, a: int, b: int) -> str:
    if i % a == 0 and i % b == 0:
        return "FizzBuzz"
    return "Fizz" if i % a == 0 else "Buzz" if i % b == 0 else str(i)


def _row(spec: Spec, rng: random.Random) -> dict[str, Any]:
    tests = []
    for _ in range(TESTS_PER_TASK):
        args = spec.draw(rng)
        tests.append({"args": args, "expected": spec.solve(*args)})
    prompt = f"Write a Python function `{spec.name}{spec.signature}`.\n\n{spec.text}"
    return {
        "responses_create_params": {
            "input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        },
        "task_id": spec.name,
        "family": spec.family,
        "entry_point": spec.name,
        "tests": tests,
    }


def build(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """Train, validation and example rows; no task appears in two of them."""
    specs = list(_specs())
    if len(specs) < NUM_TRAIN + NUM_VALIDATION + NUM_EXAMPLE:
        raise SystemExit(f"only {len(specs)} task specs; need {NUM_TRAIN + NUM_VALIDATION + NUM_EXAMPLE}")
    rng = random.Random(seed)
    rng.shuffle(specs)
    rows = [_row(spec, rng) for spec in specs[: NUM_TRAIN + NUM_VALIDATION]]
    # Examples: one task from each of several families among the specs left over.
    examples: list[dict[str, Any]] = []
    for spec in specs[NUM_TRAIN + NUM_VALIDATION :]:
        if len(examples) < NUM_EXAMPLE and spec.family not in {row["family"] for row in examples}:
            examples.append(_row(spec, rng))
    return {"train": rows[:NUM_TRAIN], "validation": rows[NUM_TRAIN:], "example": examples}


def main(argv: list[str] | None = None) -> int:
    return generator_main(build, __file__, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
