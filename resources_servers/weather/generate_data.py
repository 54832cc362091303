"""Writes data/{train,validation,example}.jsonl: weather questions, each with its own weather table.

Deterministic: the same seed gives byte-identical files. Every task names a city, lists
which facts the question asks for (condition, temperature) and carries a made-up table of
conditions for that city and a few others; ``seed_session`` loads the table and the
``get_weather`` tool answers from it. The questions and tables are written for this
repository and licensed with it (Apache 2.0).

    python generate_data.py            # writes into data/ next to this file
    python generate_data.py --check    # fails if the files differ from what it would write
"""

from __future__ import annotations

import random
from typing import Any

from gymkit.datagen import generator_main

SEED = 20261123
SPLITS = {"train": 520, "validation": 100, "example": 5}

CITIES = [
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Lima",
    "Osaka",
    "Denver",
    "Cairo",
    "Reykjavik",
    "Hanoi",
    "Perth",
    "Quito",
    "Tbilisi",
    "Montreal",
    "Dakar",
    "Seville",
    "Krakow",
    "Auckland",
    "Bergen",
    "Cusco",
    "Marrakesh",
    "Tallinn",
    "Valparaiso",
    "Kyoto",
    "Glasgow",
    "Accra",
    "Bogota",
    "Porto",
    "Vilnius",
    "Hobart",
    "Fukuoka",
    "Zanzibar",
    "Antwerp",
    "Calgary",
    "Trieste",
    "Windhoek",
    "Ushuaia",
    "Busan",
    "Galway",
    "Bilbao",
    "Tromso",
]
CONDITIONS = ("sunny", "cloudy", "rainy", "snowy", "foggy", "stormy")
SYSTEM = (
    "You are a helpful assistant. Use the get_weather tool to look up the current weather, then answer "
    "the user in one or two sentences using the values it returns."
)
QUESTIONS = {
    ("condition", "temperature_c"): [
        "What's the weather like in {city} right now? Tell me the conditions and the temperature in °C.",
        "I'm heading out in {city}. What is it doing outside, and how many degrees Celsius is it?",
    ],
    ("condition",): [
        "Do I need an umbrella in {city} today? What are the conditions there?",
        "What is the sky doing in {city} right now?",
    ],
    ("temperature_c",): [
        "How warm is it in {city} right now, in degrees Celsius?",
        "What's the current temperature in {city} in °C?",
    ],
}
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city: condition, temperature in °C and humidity.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name, e.g. Lisbon"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _conditions(rng: random.Random) -> dict[str, Any]:
    condition = rng.choice(CONDITIONS)
    low, high = {"snowy": (-15, 2), "sunny": (8, 38)}.get(condition, (-5, 30))
    return {"condition": condition, "temperature_c": rng.randint(low, high), "humidity_percent": rng.randint(15, 98)}


def _row(rng: random.Random, split: str, index: int) -> dict[str, Any]:
    cities = rng.sample(CITIES, rng.randint(3, 5))
    city = cities[0]
    asked = rng.choice(sorted(QUESTIONS))
    question = rng.choice(QUESTIONS[asked]).format(city=city)
    return {
        "responses_create_params": {
            "input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            "tools": [TOOL],
        },
        "city": city,
        "asked": list(asked),
        "weather": {name: _conditions(rng) for name in sorted(cities)},
        "task_id": f"{split}-{index:04d}",
    }


def build(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    return {split: [_row(rng, split, i) for i in range(count)] for split, count in SPLITS.items()}


def main(argv: list[str] | None = None) -> int:
    return generator_main(build, __file__, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
