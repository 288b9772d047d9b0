"""Write examples/houses.csv, the table the README's "your data" path runs on: 1,000 house
sales with a text column, missing values, a column of listing ids (text that carries
nothing) and prices whose errors have heavy tails (a few wild sales), as real tables do.

    python examples/make_houses.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(2026)
rows = 1000
area = rng.uniform(40, 220, rows).round(1)
rooms = np.clip(np.round(area / 35 + rng.normal(0, 0.8, rows)), 1, 8).astype(int)
district = rng.choice(
    ["north", "south", "east", "west", "centre"], rows, p=[0.2, 0.2, 0.2, 0.2, 0.2]
)
premium = pd.Series(district).map({"north": 0, "south": -20, "east": -10, "west": 10,
                                   "centre": 60}).to_numpy() * 1000.0  # fmt: skip
year = rng.integers(1920, 2024, rows).astype(float)
price = 1500 * area + 8000 * rooms + premium + 300 * (year - 1970)
price += 25_000 * rng.standard_t(2, rows)  # heavy tails: a few sales far from the rest
year[rng.choice(rows, 12, replace=False)] = np.nan  # year of building unknown
frame = pd.DataFrame({"area": area, "rooms": rooms, "district": district, "year": year,
                      "listing": [f"L{100000 + i}" for i in range(rows)],
                      "price": price.round(-2)})  # fmt: skip
frame.to_csv(Path(__file__).with_name("houses.csv"), index=False)
