"""The synthetic worlds the sample models live in: vectorised data-generating processes.

Three populations, each a pure function of a numpy ``Generator`` and a row count:

- credit applications (``credit-risk``, binary: did the applicant default early?),
- food deliveries (``delivery-eta``, regression: minutes until delivery),
- support tickets (``ticket-router``, multiclass: which queue resolves the ticket).

The ground truth is drawn from a known formula of the features, so models trained on it are
real models with real errors; the story's incidents are switches on these functions
(``shifted`` for the drift episode, ``north_shock`` for the degraded slice, ``credit_campaign``
for the borderline applicants of the last days).
"""

from __future__ import annotations

import numpy as np

Columns = dict[str, np.ndarray]

# -- credit-risk ------------------------------------------------------------------------------

CREDIT_NUMERIC = ["income", "age", "debt_ratio", "credit_lines", "utilization", "employment_years"]
CREDIT_CATEGORICAL = ["region", "channel", "employment"]
REGIONS = (["north", "south", "east", "west"], [0.09, 0.35, 0.31, 0.25])
CHANNELS = (["web", "mobile", "branch", "partner"], [0.45, 0.25, 0.18, 0.12])
# from the drift day a comparison site ("aggregator") starts sending applicants
CHANNELS_SHIFTED = (["web", "mobile", "branch", "partner", "aggregator"], [0.36, 0.20, 0.14, 0.10, 0.20])
EMPLOYMENT = (["salaried", "self-employed", "contractor", "unemployed"], [0.68, 0.14, 0.12, 0.06])


def _choice(rng: np.random.Generator, spec: tuple[list[str], list[float]], n: int) -> np.ndarray:
    values, p = spec
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def credit_features(rng: np.random.Generator, n: int, shifted: bool = False) -> Columns:
    """``n`` credit applications; ``shifted`` is the population after the drift day."""
    region = _choice(rng, REGIONS, n)
    channel = _choice(rng, CHANNELS_SHIFTED if shifted else CHANNELS, n)
    employment = _choice(rng, EMPLOYMENT, n)
    age = np.clip(rng.normal(37.0 if shifted else 41.0, 11.5, n), 18, 85).round()
    income = rng.lognormal(np.log(52_000), 0.45, n)
    income *= np.where(employment == "unemployed", 0.7, 1.0)
    if shifted:
        income *= 1.25
    income = np.maximum(income, 4_000).round(-2)
    debt_ratio = (rng.beta(2.6, 3.9, n) if shifted else rng.beta(2.2, 4.2, n)).round(3)
    credit_lines = rng.poisson(4.5, n).astype(float)
    utilization = rng.beta(2.0, 3.0, n).round(3)
    years = np.minimum(rng.gamma(2.0, 3.2, n), age - 18)
    years = np.where(employment == "unemployed", 0.0, years).round(1)
    years[rng.random(n) < 0.03] = np.nan  # not every application states it
    return {
        "income": income,
        "age": age,
        "debt_ratio": debt_ratio,
        "credit_lines": credit_lines,
        "utilization": utilization,
        "employment_years": years,
        "region": region,
        "channel": channel,
        "employment": employment,
    }


def credit_campaign(rng: np.random.Generator, f: Columns, share: float) -> Columns:
    """A share of the applications replaced by a broker's pre-screened mailing: incomes near 40k
    and debt ratios near 0.5, where credit-risk v2's scores crowd around its threshold. Only
    features the models see move (a covariate shift: the chance of default given the features is
    the same), so an estimate from the scores sees it before any label does."""
    n = len(f["income"])
    sel = rng.random(n) < share
    k = int(sel.sum())
    out = {name: values.copy() for name, values in f.items()}
    out["income"][sel] = np.maximum(rng.lognormal(np.log(40_000), 0.12, k), 4_000).round(-2)
    out["debt_ratio"][sel] = np.clip(rng.normal(0.50, 0.05, k), 0.0, 1.0).round(3)
    return out


_EMP_EFFECT = {"salaried": 0.0, "self-employed": 0.25, "contractor": 0.3, "unemployed": 0.45}
_CHANNEL_EFFECT = {"web": 0.0, "mobile": 0.1, "branch": -0.25, "partner": 0.3, "aggregator": 0.45}
_REGION_EFFECT = {"north": 0.1, "south": 0.0, "east": -0.1, "west": 0.05}


def _lookup(values: np.ndarray, table: dict[str, float]) -> np.ndarray:
    return np.array([table.get(v, 0.0) for v in values.tolist()], dtype=float)


def credit_default_probability(f: Columns, north_shock: float = 0.0) -> np.ndarray:
    """The true probability of early default; ``north_shock`` adds risk in region=north only
    (a regional employer closing: the features do not show it, so the models cannot)."""
    z = (
        -2.9
        - 1.0 * (np.log(f["income"]) - np.log(52_000)) / 0.45
        + 1.3 * (f["debt_ratio"] - 0.34) / 0.17
        - 0.35 * (f["age"] - 41) / 12
        + 0.15 * (f["credit_lines"] - 4.5) / 2.1
        + 1.5 * (f["utilization"] - 0.4) / 0.2
        + 1.0 * ((f["utilization"] > 0.7) & (f["debt_ratio"] > 0.45))
        - 0.04 * np.nan_to_num(f["employment_years"])
        + _lookup(f["employment"], _EMP_EFFECT)
        + _lookup(f["channel"], _CHANNEL_EFFECT)
        + _lookup(f["region"], _REGION_EFFECT)
        + north_shock * (f["region"] == "north")
    )
    return 1.0 / (1.0 + np.exp(-z))


# -- delivery-eta -----------------------------------------------------------------------------

DELIVERY_NUMERIC = ["distance_km", "items", "hour"]
DELIVERY_CATEGORICAL = ["city", "courier", "weather"]
CITIES = (["lisbon", "porto", "braga", "faro"], [0.45, 0.30, 0.15, 0.10])
COURIERS = (["bike", "scooter", "car"], [0.40, 0.35, 0.25])
WEATHER = (["clear", "rain", "wind"], [0.70, 0.22, 0.08])


def delivery_features(rng: np.random.Generator, n: int, hour: np.ndarray | None = None) -> Columns:
    """``n`` delivery orders (``hour`` of day from the request time when given)."""
    if hour is None:
        hour = rng.integers(8, 24, n)
    return {
        "distance_km": np.maximum(rng.gamma(2.2, 1.6, n), 0.3).round(2),
        "items": (1 + rng.poisson(1.8, n)).astype(float),
        "hour": np.asarray(hour, dtype=float),
        "city": _choice(rng, CITIES, n),
        "courier": _choice(rng, COURIERS, n),
        "weather": _choice(rng, WEATHER, n),
    }


_SPEED = {"bike": 3.4, "scooter": 2.6, "car": 2.3}
_CITY_TRAFFIC = {"lisbon": 1.2, "porto": 1.1, "braga": 0.95, "faro": 0.9}


def delivery_minutes(rng: np.random.Generator, f: Columns) -> np.ndarray:
    """The true minutes until delivery."""
    peak = np.isin(f["hour"], [12, 13, 19, 20, 21])
    minutes = (
        9.0
        + f["distance_km"] * _lookup(f["courier"], _SPEED) * _lookup(f["city"], _CITY_TRAFFIC)
        + 1.1 * f["items"]
        + 5.5 * (f["weather"] == "rain")
        + 2.5 * (f["weather"] == "wind") * (f["courier"] != "car")
        + 6.0 * peak
        + rng.gamma(2.0, 2.2, len(f["hour"]))
    )
    return minutes.round(1)


# -- ticket-router ----------------------------------------------------------------------------

TICKET_NUMERIC = ["words", "attachments", "hour"]
TICKET_CATEGORICAL = ["tier", "product", "language"]
TICKET_CLASSES = ["billing", "technical", "account", "sales"]
TIERS = (["free", "pro", "enterprise"], [0.55, 0.35, 0.10])
PRODUCTS = (["payments", "cards", "app", "api"], [0.35, 0.25, 0.25, 0.15])
LANGUAGES = (["en", "pt", "es"], [0.60, 0.25, 0.15])


def ticket_features(rng: np.random.Generator, n: int, hour: np.ndarray | None = None) -> Columns:
    if hour is None:
        hour = rng.integers(0, 24, n)
    return {
        "words": np.maximum(rng.lognormal(np.log(60), 0.6, n).round(), 3),
        "attachments": rng.poisson(0.4, n).astype(float),
        "hour": np.asarray(hour, dtype=float),
        "tier": _choice(rng, TIERS, n),
        "product": _choice(rng, PRODUCTS, n),
        "language": _choice(rng, LANGUAGES, n),
    }


def ticket_queue(rng: np.random.Generator, f: Columns) -> np.ndarray:
    """The queue that really resolved each ticket (drawn from a softmax of the features)."""
    words = np.log(f["words"] / 60)
    product, tier = f["product"], f["tier"]
    logits = np.stack(
        [
            0.8 * np.isin(product, ["payments", "cards"]) - 0.6 * words,  # billing
            1.1 * np.isin(product, ["app", "api"]) + 0.9 * f["attachments"] + 0.7 * words,  # technical
            0.7 * (tier == "free") - 0.2 * f["attachments"],  # account
            1.6 * (tier == "enterprise") - 0.5 + 0.3 * (product == "api"),  # sales
        ],
        axis=1,
    )
    logits = 2.0 * logits  # sharp enough that the queue is mostly predictable from the ticket
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random(len(words))[:, None]
    idx = (p.cumsum(axis=1) < u).sum(axis=1)
    return np.asarray(TICKET_CLASSES, dtype=object)[np.minimum(idx, len(TICKET_CLASSES) - 1)]
