"""Writes data/{train,validation,example}.jsonl: extract fields from a short text as JSON.

Deterministic: the same seed gives byte-identical files. Five record kinds (a contact,
an order, an event, a book, a sensor reading) are filled with values from a seeded
generator and written out as prose in one of several phrasings, with a distracting number
or two; each row carries the field list (name, type, range) and the expected values. The
texts are written for this repository and licensed with it (Apache 2.0).

    python generate_data.py            # writes into data/ next to this file
    python generate_data.py --check    # fails if the files differ from what it would write
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from gymkit.datagen import generator_main

SEED = 20261123
SPLITS = {"train": 520, "validation": 100, "example": 5}

FIRST = [
    "Ana",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Freya",
    "Goran",
    "Hana",
    "Ivo",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Noor",
    "Oskar",
    "Pia",
    "Rui",
    "Sana",
    "Tomas",
    "Yara",
]
LAST = [
    "Silva",
    "Novak",
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Moreau",
    "Tanaka",
    "Kowalski",
    "Duarte",
    "Berg",
    "Mensah",
    "Rossi",
    "Ivanova",
    "Park",
]
CITIES = [
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Lima",
    "Osaka",
    "Denver",
    "Cairo",
    "Hanoi",
    "Perth",
    "Quito",
    "Tbilisi",
    "Montreal",
    "Dakar",
    "Krakow",
    "Porto",
]
ITEMS = ["desk lamp", "garden hose", "chess set", "rain jacket", "coffee grinder", "yoga mat", "tool box", "kettle"]
VENUES = ["Harbour Hall", "the Old Library", "Riverside Park", "the Glass Pavilion", "Hall B of the Expo Centre"]
TOPICS = ["Data Privacy", "Urban Gardening", "Small Robots", "Local History", "Jazz Improvisation", "Bird Migration"]
WORDS = [
    "Silent",
    "Winter",
    "River",
    "Glass",
    "Orchard",
    "Lantern",
    "Salt",
    "Copper",
    "Distant",
    "Harbour",
    "Paper",
    "Moon",
    "Iron",
    "Garden",
]

Record = tuple[str, list[dict[str, Any]], dict[str, Any]]  # text, fields, expected


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def contact(rng: random.Random) -> Record:
    name, age, city = _name(rng), rng.randint(18, 90), rng.choice(CITIES)
    email = f"{name.split()[0].lower()}.{name.split()[1].lower()}{rng.randint(1, 99)}@example.org"
    text = rng.choice(
        [
            f"{name} ({age}) moved to {city} {rng.randint(2, 9)} years ago and can be reached at {email}.",
            f"New member: {name}, from {city}. Age {age}. Email {email}. Referred by member #{rng.randint(100, 999)}.",
            f"Please write to {email} to contact {name}, who is {age} years old and lives in {city}.",
        ]
    )
    fields = [
        {"name": "name", "type": "string"},
        {"name": "age", "type": "integer", "minimum": 0, "maximum": 120},
        {"name": "city", "type": "string"},
        {"name": "email", "type": "email"},
    ]
    return text, fields, {"name": name, "age": age, "city": city, "email": email}


def order(rng: random.Random) -> Record:
    order_id, item = f"{rng.choice('ABCDEFGH')}-{rng.randint(1000, 9999)}", rng.choice(ITEMS)
    quantity, price, express = rng.randint(1, 50), rng.randint(50, 50000) / 100, rng.random() < 0.5
    shipping = "express shipping" if express else "standard shipping"
    text = rng.choice(
        [
            f"Order {order_id}: {quantity} x {item} at ${price:.2f} each, {shipping}. "
            f"Placed {rng.randint(2, 28)} days ago.",
            f"The customer ordered {quantity} units of the {item} (unit price ${price:.2f}) under order number "
            f"{order_id} and chose {shipping}.",
        ]
    )
    fields = [
        {"name": "order_id", "type": "string"},
        {"name": "item", "type": "string"},
        {"name": "quantity", "type": "integer", "minimum": 1, "maximum": 1000},
        {"name": "unit_price", "type": "number", "minimum": 0, "maximum": 10000},
        {"name": "express", "type": "boolean"},
    ]
    return (
        text,
        fields,
        {"order_id": order_id, "item": item, "quantity": quantity, "unit_price": price, "express": express},
    )


def event(rng: random.Random) -> Record:
    title = f"{rng.choice(['Workshop', 'Meetup', 'Conference', 'Talk'])} on {rng.choice(TOPICS)}"
    year, month, day = rng.randint(2024, 2027), rng.randint(1, 12), rng.randint(1, 28)
    date, attendees, venue = f"{year}-{month:02d}-{day:02d}", rng.randint(5, 5000), rng.choice(VENUES)
    text = rng.choice(
        [
            f"The {title} takes place on {date} at {venue}; {attendees} people have registered so far, "
            f"{rng.randint(2, 40)} of them speakers.",
            f"Save the date: {date}. {venue} hosts the {title}, expecting {attendees} attendees.",
        ]
    )
    fields = [
        {"name": "title", "type": "string"},
        {"name": "date", "type": "date"},
        {"name": "attendees", "type": "integer", "minimum": 0, "maximum": 100000},
        {"name": "venue", "type": "string"},
    ]
    return text, fields, {"title": title, "date": date, "attendees": attendees, "venue": venue}


def book(rng: random.Random) -> Record:
    title = f"The {rng.choice(WORDS)} {rng.choice(WORDS)}"
    author, year, pages = _name(rng), rng.randint(1800, 2026), rng.randint(50, 1500)
    text = rng.choice(
        [
            f"{author}'s novel {title}, first published in {year}, runs to {pages} pages over "
            f"{rng.randint(8, 60)} chapters.",
            f"In {year}, {author} published {title}, a {pages}-page book.",
        ]
    )
    fields = [
        {"name": "title", "type": "string"},
        {"name": "author", "type": "string"},
        {"name": "year", "type": "integer", "minimum": 1000, "maximum": 2100},
        {"name": "pages", "type": "integer", "minimum": 1, "maximum": 10000},
    ]
    return text, fields, {"title": title, "author": author, "year": year, "pages": pages}


def sensor(rng: random.Random) -> Record:
    sensor_id = f"S{rng.randint(100, 999)}"
    temperature, battery, online = rng.randint(-400, 600) / 10, rng.randint(0, 100), rng.random() < 0.7
    state = "online" if online else "offline"
    text = rng.choice(
        [
            f"Sensor {sensor_id} on floor {rng.randint(1, 12)} reports {temperature} °C with its battery at "
            f"{battery}%; it is currently {state}.",
            f"Status of {sensor_id}: {state}, battery {battery} percent, last temperature reading {temperature} °C.",
        ]
    )
    fields = [
        {"name": "sensor_id", "type": "string"},
        {"name": "temperature_c", "type": "number", "minimum": -60, "maximum": 80},
        {"name": "battery_percent", "type": "integer", "minimum": 0, "maximum": 100},
        {"name": "online", "type": "boolean"},
    ]
    return (
        text,
        fields,
        {"sensor_id": sensor_id, "temperature_c": temperature, "battery_percent": battery, "online": online},
    )


KINDS: dict[str, Callable[[random.Random], Record]] = {f.__name__: f for f in (contact, order, event, book, sensor)}


def _prompt(text: str, fields: list[dict[str, Any]]) -> str:
    lines = []
    for field in fields:
        kind = {"date": "string, YYYY-MM-DD", "email": "string, an email address"}.get(field["type"], field["type"])
        if "minimum" in field:
            kind += f", {field['minimum']} to {field['maximum']}"
        lines.append(f"- {field['name']} ({kind})")
    return (
        "Extract these fields from the text below and answer with only a JSON object with exactly these keys:\n"
        + "\n".join(lines)
        + f"\n\nText: {text}"
    )


def build(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """Rows for every split; no text appears twice across all of them."""
    rng = random.Random(seed)
    kinds, seen = sorted(KINDS), set()
    out: dict[str, list[dict[str, Any]]] = {}
    for split, count in SPLITS.items():
        rows: list[dict[str, Any]] = []
        while len(rows) < count:
            kind = kinds[len(rows) % len(kinds)] if split == "example" else rng.choice(kinds)
            text, fields, expected = KINDS[kind](rng)
            if text in seen:
                continue
            seen.add(text)
            rows.append(
                {
                    "responses_create_params": {"input": [{"role": "user", "content": _prompt(text, fields)}]},
                    "fields": fields,
                    "expected": expected,
                    "kind": kind,
                    "task_id": f"{split}-{len(rows):04d}",
                }
            )
        out[split] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    return generator_main(build, __file__, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
