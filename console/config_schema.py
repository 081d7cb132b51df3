"""Every section and key ``console.toml`` may hold, with the type of its value, in one table.

``validate(config, path)`` checks a parsed ``console.toml`` against ``SECTIONS`` before anything
reads it: an unknown section or key (a typo: ``prediction`` for ``predictions``) or a value of
the wrong type is a ``WorkspaceError`` — one line naming the file, ``[section] key`` and, for a
typo, the closest known name (``difflib``). Nothing is silently ignored.

Adding a key is one line in ``SECTIONS`` (plus its row in docs/formats.md's console.toml
reference, which ``tests/test_config_schema.py`` checks against this table, and the code that
reads it). Checks of a value's range or vocabulary (a drift method, a window like ``7d``) stay
with the code that uses the key; this table is about names and types.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.durations import is_duration
from console.errors import WorkspaceError


@dataclass(frozen=True)
class Kind:
    """What a value must be: ``name`` as the docs and the errors say it, and its test."""

    name: str  # with its article: "a string", "true or false"
    ok: Callable[[Any], bool]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)



TEXT = Kind("a string", lambda v: isinstance(v, str))
BOOL = Kind("true or false", lambda v: isinstance(v, bool))
NUMBER = Kind("a number", _number)
INTEGER = Kind("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
TEXTS = Kind("a list of strings", _texts)
PATHS = Kind("a path or a list of paths", lambda v: isinstance(v, str) or _texts(v))
DURATION = Kind("a duration string (30s, 10m, 72h, 3d, 1w)", is_duration)
TTL = Kind("a duration string (72h, 3d) or \"never\"",
           lambda v: isinstance(v, str) and (is_duration(v)
                                             or v.strip().lower() in ("0", "never", "none", "")))
TIMEOUT = Kind("a duration string (30s, 500ms, 2m) or a number of seconds (0: none)",
               lambda v: _number(v) or isinstance(v, str))  # its grammar: analytics.query.parse_timeout
NUMBER_TABLE = Kind("a table of numbers (class = number)",
                    lambda v: isinstance(v, dict) and all(_number(x) for x in v.values()))
TABLE = Kind("a table", lambda v: isinstance(v, dict))  # free-form: its owner checks its entries

# -- the schema: one line per key ----------------------------------------------------------------
SECTIONS: dict[str, dict[str, Kind]] = {
    "workspace": {
        "name": TEXT,
        "memory_limit": TEXT,
    },
    "sources": {
        "predictions": PATHS,
        "labels": PATHS,
        "registry": TEXT,
        "follow_links": BOOL,
    },
    "access": {
        "operators": TEXTS,
        "reviewers": TEXTS,
    },
    "hooks": {
        "retrain": TEXT,
        "promote": TEXT,
        "rollback": TEXT,
    },
    "governance": {
        "request_ttl": TTL,
        "hook_timeout": DURATION,
        "hook_output_bytes": INTEGER,
        "unsigned_before": INTEGER,
        "signers": TEXT,
    },
    "ingest": {
        "max_future_skew": DURATION,
        "max_features_per_model": INTEGER,
        "adopt_parquet": BOOL,
    },
    "gates": {
        "enabled": TEXTS,
        "metric": TEXT,
        "metric_tolerance": NUMBER,
        "live_tolerance": NUMBER,
        "live_min_labelled": INTEGER,
        "drift_window": TEXT,
        "lineage_fields": TEXTS,
        "model_card_required": TEXTS,
    },
    "drift": {
        "method": TEXT,
        "threshold": NUMBER,
        "numeric_method": TEXT,
        "numeric_threshold": NUMBER,
        "categorical_method": TEXT,
        "categorical_threshold": NUMBER,
        "share": NUMBER,
        "output": BOOL,
        "features": TABLE,  # [drift.features.<feature>]: FEATURE_KEYS
    },
    "multivariate": {
        "enabled": BOOL,
        "sample": NUMBER,
        "folds": NUMBER,
        "warn_auc": NUMBER,
        "drift_auc": NUMBER,
        "top": NUMBER,
        "seed": NUMBER,
    },
    "slices": {
        "min_labelled": NUMBER,
        "alpha": NUMBER,
        "correction": TEXT,
        "min_effect": NUMBER,
        "max_values": NUMBER,
    },
    "performance": {
        "min_labelled": INTEGER,
    },
    "alerts": {
        "window": TEXT,
        "ops_window": TEXT,
        "drift": BOOL,
        "drift_severity": TEXT,
        "feature_drift": BOOL,
        "output_drift": BOOL,
        "output_drift_severity": TEXT,
        "performance_tolerance": NUMBER,
        "performance_min_labelled": NUMBER,
        "slices": BOOL,
        "fairness_parity_max": NUMBER,
        "fairness_equal_opportunity_max": NUMBER,
        "error_rate": NUMBER,
        "min_requests": NUMBER,
        "latency_p95_ms": NUMBER,
        "budget_warn": NUMBER,
        "budget_critical": NUMBER,
        "multivariate": BOOL,
        "missing": BOOL,
        "missing_rise": NUMBER,
        "new_category": BOOL,
        "new_category_share": NUMBER,
        "range": BOOL,
        "range_share": NUMBER,
        "volume": BOOL,
        "no_data": BOOL,
        "volume_window": TEXT,
        "volume_lookback": TEXT,
        "volume_drop": NUMBER,
        "volume_spike": NUMBER,
        "quarantine": BOOL,
        "quarantine_rate": NUMBER,
    },
    "value": {  # console.analytics.value: what an outcome is worth
        "correct_usd": NUMBER,
        "wrong_usd": NUMBER,
        "correct_usd_by_class": NUMBER_TABLE,
        "wrong_usd_by_class": NUMBER_TABLE,
        "usd_per_unit_error": NUMBER,
        "prediction_usd": NUMBER,
    },
    "cache": {
        "enabled": BOOL,
    },
    "retrain_policy": {  # governance.policy: a retrain request raised as `system`
        "when": TEXTS,
        "window": TEXT,
        "consecutive_windows": INTEGER,
        "models": TEXTS,
        "performance_tolerance": NUMBER,
        "min_labelled": INTEGER,
    },
    "query": {
        "timeout": TIMEOUT,
    },
    "ui": {
        "theme": TEXT,
        "keymap": TEXT,
        "keys": TABLE,  # [ui.keys]: "<action id>" = "keys", checked by the TUI's keymap
    },
    "models": {},  # [models."<model>".<section>]: MODEL_SECTIONS, keyed by model name
    "notify": {},  # [notify.<name>]: NOTIFY_KEYS, one table per notification sink
}

# [notify.<name>]: a notification sink (console.governance.notify checks the values)
NOTIFY_KEYS: dict[str, Kind] = {
    "command": TEXTS,
    "webhook": TEXT,
    "events": TEXTS,
    "timeout": DURATION,
    "attempts": INTEGER,
    "backoff": DURATION,
}

# [drift.features.<feature>] and [models."<m>".drift.features.<feature>]
FEATURE_KEYS: dict[str, Kind] = {
    "method": TEXT,
    "threshold": NUMBER,
    "enabled": BOOL,
}

# the sections a model may override under [models."<model>".<section>], with the same keys
MODEL_SECTIONS: tuple[str, ...] = ("drift", "multivariate", "slices", "performance", "alerts", "gates", "value")


def known_keys() -> set[tuple[str, str]]:
    """Every ``(table, key)`` of the schema, as docs/formats.md's reference table names them."""
    out = {(f"[{s}]", k) for s, keys in SECTIONS.items() for k in keys}
    out |= {("[drift.features.<feature>]", k) for k in FEATURE_KEYS}
    out |= {('[models."<model>"]', s) for s in MODEL_SECTIONS}
    out |= {("[notify.<name>]", k) for k in NOTIFY_KEYS}
    return out


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f" (known: {', '.join(choices)})" if choices else ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate(config: dict[str, Any], path: Any) -> None:
    """``WorkspaceError`` for the first unknown section or key or wrongly typed value."""

    def fail(problem: str) -> WorkspaceError:
        return WorkspaceError(f"{path}: {problem}")

    def check_table(table: Any, keys: dict[str, Kind], where: str) -> None:
        if not isinstance(table, dict):
            raise fail(f"{where} must be a table")
        for key, value in table.items():
            kind = keys.get(key)
            if kind is None:
                raise fail(f"unknown key {where} {key}{_suggest(key, list(keys))}")
            if not kind.ok(value):
                raise fail(f"{where} {key} must be {kind.name}, not {_show(value)}")

    def check_drift(table: Any, where: str) -> None:
        check_table(table, SECTIONS["drift"], where)
        for feature, rule in table.get("features", {}).items():
            check_table(rule, FEATURE_KEYS, f"{where[:-1]}.features.{feature}]")

    for section, table in config.items():
        if section not in SECTIONS:
            raise fail(f"unknown section [{section}]{_suggest(section, list(SECTIONS))}")
        where = f"[{section}]"
        if section == "models":
            if not isinstance(table, dict):
                raise fail("[models] must be a table of [models.\"<model>\"] tables")
            for model, per in table.items():
                mwhere = f'[models."{model}"]'
                if not isinstance(per, dict):
                    raise fail(f"{mwhere} must be a table")
                for sub, subtable in per.items():
                    if sub not in MODEL_SECTIONS:
                        raise fail(f"unknown key {mwhere} {sub}{_suggest(sub, list(MODEL_SECTIONS))}")
                    swhere = f'[models."{model}".{sub}]'
                    if sub == "drift":
                        check_drift(subtable, swhere)
                    else:
                        check_table(subtable, SECTIONS[sub], swhere)
        elif section == "drift":
            check_drift(table, where)
        elif section == "notify":
            if not isinstance(table, dict):
                raise fail("[notify] must be a table of [notify.<name>] tables")
            for name, sink in table.items():
                check_table(sink, NOTIFY_KEYS, f"[notify.{name}]")
        else:
            check_table(table, SECTIONS[section], where)
