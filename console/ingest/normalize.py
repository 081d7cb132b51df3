"""Validation and normalisation of tagged records (docs/formats.md, 'One prediction = one record' and 'Labels'), vectorised with polars.

Input: a tagged frame (see ``tagging``). Output: the rows to store, in the store's columns,
and the rows to quarantine with their reason. The rules, in the order a reason is chosen:
parse failure; missing ``ts``/``model``/``version``/``request_id``; wrong types; ``status`` not
``ok``/``error``; missing ``prediction`` (unless ``status`` is ``error``); unreadable ``ts``;
``score`` outside [0, 1]; negative ``latency_ms`` or ``cost_usd``.

Feature values are converted per model to the feature's kind (``FeatureCatalog``): a value
that contradicts the kind becomes null and counts as a type error of that feature.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from console.ingest.tagging import FEATURE_PREFIX, T_BOOL, T_NULL, T_NUM, T_OTHER, T_STR
from console.store.checkpoint import Checkpoint, FeatureState
from console.store.registry import Registry, version_sort_key
from console.store.writer import split_by

PRED_FIELDS = ("ts", "model", "version", "request_id", "prediction", "score", "label", "latency_ms", "status", "error", "cost_usd")
LABEL_FIELDS = ("request_id", "label", "model", "ts")
TS_MIN = pl.datetime(1900, 1, 1)
TS_MAX = pl.datetime(2300, 1, 1)
MAX_MODEL_BYTES = 80  # a model name is a folder name in the store (model=<percent-encoded>)
IN_THE_FUTURE = "'ts' in the future"
_CONTROL = r"[\x00-\x1f\x7f]"


def parse_ts_strings(values: pl.Series) -> pl.Series:
    """RFC 3339 date-times → naive UTC ``Datetime(us)``; null when not RFC 3339.

    Exactly RFC 3339 section 5.6 ``date-time`` (``T``/``t``, ``Z``/``z``, a ``±hh:mm`` offset,
    ``-00:00`` = UTC, any number of fraction digits: cut to microseconds), plus two documented
    forms: a space for the ``T`` (RFC 3339's own note allows it) and no offset (UTC). A leap
    second, ``23:59:60`` UTC, reads as ``23:59:59`` (with its fraction). Nothing else: no
    date alone, no ``24:00``, no zone names, no ``+25:00``.
    """
    if values.len() == 0 or values.null_count() == values.len():
        return pl.Series(values.name, [None] * values.len(), dtype=pl.Datetime("us"))
    fast = _parse_iso_utc(values)
    if fast is not None:
        return fast
    return pl.DataFrame({"s": values}).select(_rfc3339(pl.col("s"))).to_series().alias(values.name)


_RFC3339 = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?$"
)


def _rfc3339(s: pl.Expr) -> pl.Expr:
    g = s.str.extract_groups(_RFC3339)

    def num(i: int) -> pl.Expr:
        return g.struct.field(str(i)).cast(pl.Int32)

    y, mo, d, h, mi, sec = (num(i) for i in range(1, 7))
    frac = g.struct.field("7").fill_null("").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int32)
    sign = pl.when(g.struct.field("9") == "-").then(-1).otherwise(1)
    oh, om = num(10).fill_null(0), num(11).fill_null(0)
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_days = (
        pl.when(mo == 2).then(pl.when(leap).then(29).otherwise(28))
        .when(mo.is_in([4, 6, 9, 11])).then(30)
        .otherwise(31)
    )
    ok = (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= month_days) & (h <= 23) & (mi <= 59) & (sec <= 60) & (oh <= 23) & (om <= 59)

    def when_ok(e: pl.Expr) -> pl.Expr:
        return pl.when(ok).then(e)

    local = pl.datetime(when_ok(y), when_ok(mo), when_ok(d), when_ok(h), when_ok(mi), when_ok(pl.min_horizontal(sec, 59)), when_ok(frac), time_unit="us")
    utc = local - pl.duration(minutes=sign * (oh * 60 + om))
    leap_ok = (sec < 60) | ((utc.dt.hour() == 23) & (utc.dt.minute() == 59))
    return pl.when(ok & leap_ok).then(utc).cast(pl.Datetime("us"))


_ISO_Z = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z$"


def _parse_iso_utc(values: pl.Series) -> pl.Series | None:
    """The usual case, fast: every value spelled ``YYYY-MM-DDThh:mm:ss[.ffffff]Z``, parsed by
    Arrow's strict ISO 8601 cast (it rejects an invalid date). ``None`` when any value is
    spelled otherwise or rejected: the general path reads them, with the same result for
    every value this one accepts."""
    if values.null_count():
        return None
    arr = values.to_arrow()
    if not pc.all(pc.match_substring_regex(arr, _ISO_Z)).as_py():
        return None
    try:
        ts = pc.cast(arr, pa.timestamp("us", "UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = pl.from_arrow(ts)
    assert isinstance(out, pl.Series)
    return out.dt.replace_time_zone(None).cast(pl.Datetime("us")).alias(values.name)


def canonical_number_text(n: pl.Expr) -> pl.Expr:
    """Numbers as text the way ``registry.canonical_text`` writes them: ``1.0`` → ``"1"``."""
    is_int = n.is_finite() & (n == n.floor()) & (n.abs() < 9.2e18)
    return (
        pl.when(is_int)
        .then(n.cast(pl.Int64, strict=False).cast(pl.String))
        .when(n.is_finite())
        .then(n.cast(pl.String))
        .otherwise(None)
    )


def ensure_fields(df: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    add = []
    for f in fields:
        if f"{f}|t" not in df.columns:
            add += [
                pl.lit(T_NULL, pl.Int8).alias(f"{f}|t"),
                pl.lit(None, pl.Float64).alias(f"{f}|n"),
                pl.lit(None, pl.String).alias(f"{f}|s"),
            ]
    if "_reason" not in df.columns:
        add.append(pl.lit(None, pl.String).alias("_reason"))
    df = df.with_columns(add) if add else df
    # A null tag (a frame that lacked the field, concatenated with one that had it) means the
    # field is missing on that row: tag 0, so the rules below see it as missing.
    tags = [c for c in df.columns if c.endswith("|t") and df[c].null_count()]
    return df.with_columns(pl.col(tags).fill_null(T_NULL)) if tags else df


def _t(f: str) -> pl.Expr:
    return pl.col(f"{f}|t")


def _n(f: str) -> pl.Expr:
    return pl.col(f"{f}|n")


def _s(f: str) -> pl.Expr:
    return pl.col(f"{f}|s")


def _text(f: str) -> pl.Expr:
    """The text of a string/number/bool field (exact integer text or CSV cell when known)."""
    return pl.when(_t(f) == T_NUM).then(pl.coalesce(_s(f), canonical_number_text(_n(f)))).when(_t(f).is_in([T_STR, T_BOOL])).then(_s(f))


def _value_text(f: str) -> pl.Expr:
    """The canonical text of a prediction or label value (numbers in decimal: 1.0 → "1")."""
    return pl.when(_t(f) == T_NUM).then(canonical_number_text(_n(f))).when(_t(f).is_in([T_STR, T_BOOL])).then(_s(f))


def _parse_ts(df: pl.DataFrame) -> pl.Series:
    """The parsed ``ts`` of every row (null when missing or unreadable)."""
    n = pl.col("ts|n")
    from_num = (
        df.select(
            pl.when((pl.col("ts|t") == T_NUM) & n.is_finite() & (n.abs() < 1e13))
            .then((n * 1e6).round(0).cast(pl.Int64))
            .cast(pl.Datetime("us"))
        )
        .to_series()
    )
    t = df["ts|t"]
    s = df["ts|s"]
    needs = (t == T_STR) & s.is_not_null()
    if "ts|d" in df.columns:
        from_d = df["ts|d"].cast(pl.Datetime("us"))
        needs = needs & from_d.is_null()
    else:
        from_d = pl.Series([None] * df.height, dtype=pl.Datetime("us"))
    from_str = pl.Series([None] * df.height, dtype=pl.Datetime("us"))
    if needs.any():
        idx = needs.arg_true()
        parsed = parse_ts_strings(s.gather(idx))
        from_str = from_str.scatter(idx, parsed)
    out = pl.DataFrame({"a": from_d, "b": from_str, "c": from_num}).select(pl.coalesce("a", "b", "c")).to_series()
    return out.alias("ts")


@dataclass
class Validated:
    good: pl.DataFrame  # store columns (without features) + the kept tagged feature columns
    bad: pl.DataFrame  # _line, _offset, reason
    features: list[str] = field(default_factory=list)


@functools.cache
def _prediction_exprs() -> tuple[pl.Expr, list[pl.Expr]]:
    """The reason expression and the normalising select (built once: building them costs more
    than running them on a small block)."""
    def missing(f: str) -> pl.Expr:
        return (_t(f) == T_NULL) | ((_t(f) == T_STR) & (_s(f) == ""))

    status = pl.when(_t("status") == T_NULL).then(pl.lit("ok")).otherwise(_s("status"))
    not_finite = lambda f: (_t(f) == T_NUM) & _s(f).is_null() & ~_n(f).is_finite()  # noqa: E731 - NaN, 1e400
    num_ok = lambda f: _n(f).is_finite()  # noqa: E731
    reason = (
        pl.when(pl.col("_reason").is_not_null()).then(pl.col("_reason"))
        .when(missing("ts")).then(pl.lit("missing required field 'ts'"))
        .when(missing("model")).then(pl.lit("missing required field 'model'"))
        .when(_t("model") != T_STR).then(pl.lit("'model' must be a string"))
        .when(_s("model").str.len_bytes() > MAX_MODEL_BYTES).then(pl.lit(f"'model' longer than {MAX_MODEL_BYTES} bytes"))
        .when(_s("model").str.contains(_CONTROL)).then(pl.lit("'model' holds a control character"))
        .when(missing("version")).then(pl.lit("missing required field 'version'"))
        .when(~_t("version").is_in([T_STR, T_NUM])).then(pl.lit("'version' must be a string or a number"))
        .when(not_finite("version")).then(pl.lit("'version' is not a finite number"))
        .when(missing("request_id")).then(pl.lit("missing required field 'request_id'"))
        .when(~_t("request_id").is_in([T_STR, T_NUM])).then(pl.lit("'request_id' must be a string"))
        .when(not_finite("request_id")).then(pl.lit("'request_id' is not a finite number"))
        .when((_t("status") != T_NULL) & ~((_t("status") == T_STR) & _s("status").is_in(["ok", "error"])))
        .then(pl.lit("'status' must be \"ok\" or \"error\""))
        .when(missing("prediction") & (status != "error")).then(pl.lit("missing required field 'prediction'"))
        .when(_t("prediction").is_in([T_BOOL, T_OTHER]) | ((_t("prediction") == T_NUM) & ~num_ok("prediction")))
        .then(pl.lit("'prediction' must be a number or a string"))
        .when(pl.col("_ts").is_null() | (pl.col("_ts") < TS_MIN) | (pl.col("_ts") >= TS_MAX)).then(pl.lit("unreadable 'ts'"))
        .when(pl.col("_ts") > pl.col("_ts_max")).then(pl.lit(IN_THE_FUTURE))
        .when((_t("score") != T_NULL) & (_t("score") != T_NUM)).then(pl.lit("'score' must be a number"))
        .when((_t("score") == T_NUM) & ~((_n("score") >= 0) & (_n("score") <= 1))).then(pl.lit("'score' outside [0, 1]"))
        .when((_t("latency_ms") != T_NULL) & ((_t("latency_ms") != T_NUM) | ~num_ok("latency_ms"))).then(pl.lit("'latency_ms' must be a number"))
        .when((_t("latency_ms") == T_NUM) & (_n("latency_ms") < 0)).then(pl.lit("negative 'latency_ms'"))
        .when((_t("cost_usd") != T_NULL) & ((_t("cost_usd") != T_NUM) | ~num_ok("cost_usd"))).then(pl.lit("'cost_usd' must be a number"))
        .when((_t("cost_usd") == T_NUM) & (_n("cost_usd") < 0)).then(pl.lit("negative 'cost_usd'"))
        .when(_t("label") == T_OTHER).then(pl.lit("'label' must be a number or a string"))
        .when((_t("label") == T_NUM) & ~num_ok("label")).then(pl.lit("'label' must be a number or a string"))
        .when(~_t("error").is_in([T_NULL, T_STR])).then(pl.lit("'error' must be a string"))
        .otherwise(None)
    )
    select = [
        pl.col("_ts").alias("ts"),
        pl.col("_ts").dt.date().alias("day"),
        _s("model").alias("model"),
        _text("version").alias("version"),
        _text("request_id").alias("request_id"),
        _value_text("prediction").alias("prediction"),
        pl.when(_t("prediction") == T_NUM).then(_n("prediction")).alias("prediction_num"),
        pl.when(_t("score") == T_NUM).then(_n("score")).alias("score"),
        _value_text("label").alias("label"),
        pl.when(_t("label") == T_NUM).then(_n("label")).alias("label_num"),
        pl.when(_t("latency_ms") == T_NUM).then(_n("latency_ms")).alias("latency_ms"),
        pl.when(_t("status") == T_NULL).then(pl.lit("ok")).otherwise(_s("status")).alias("status"),
        _s("error").alias("error"),
        pl.when(_t("cost_usd") == T_NUM).then(_n("cost_usd")).alias("cost_usd"),
        pl.col("_line").alias("line"),
    ]
    return reason, select


def validate_predictions(
    df: pl.DataFrame,
    ts_max: dt.datetime | None = None,
    max_features: int | None = None,
    known_features: Callable[[str], Collection[str]] | None = None,
) -> Validated:
    """Split tagged prediction records into valid rows (normalised) and quarantined rows.

    ``ts_max`` (naive UTC): a later ``ts`` is quarantined as in the future. ``max_features``:
    a record that would give its model more distinct features than this (those it already
    has: ``known_features(model)``) is quarantined."""
    df = ensure_fields(df, PRED_FIELDS)
    ts = _parse_ts(df)
    reason, select = _prediction_exprs()
    df = df.with_columns(ts.alias("_ts"), pl.lit(ts_max, pl.Datetime("us")).alias("_ts_max")).with_columns(reason.alias("_why"))
    if max_features is not None:
        df = _cap_features(df, max_features, known_features or (lambda m: ()))
    bad = df.filter(pl.col("_why").is_not_null()).select("_line", "_offset", pl.col("_why").alias("reason"))
    ok = df.filter(pl.col("_why").is_null()) if bad.height else df
    feats = sorted({c[len(FEATURE_PREFIX):-2] for c in ok.columns if c.startswith(FEATURE_PREFIX) and c.endswith("|t")})
    src = [pl.col("_src")] if "_src" in df.columns else []
    if src:
        bad = df.filter(pl.col("_why").is_not_null()).select("_line", "_offset", pl.col("_why").alias("reason"), *src)
    good = ok.select(*select, *[pl.col(f"{FEATURE_PREFIX}{f}|{k}") for f in feats for k in ("t", "n", "s")], *src)
    return Validated(good=good, bad=bad, features=feats)


def validate_labels(df: pl.DataFrame, ts_max: dt.datetime | None = None) -> Validated:
    """Split tagged label records into valid rows and quarantined rows (docs/formats.md, 'Labels')."""
    df = ensure_fields(df, LABEL_FIELDS)
    ts = _parse_ts(df)
    df = df.with_columns(ts.alias("_ts"), pl.lit(ts_max, pl.Datetime("us")).alias("_ts_max"))
    missing = lambda f: (_t(f) == T_NULL) | ((_t(f) == T_STR) & (_s(f) == ""))  # noqa: E731
    reason = (
        pl.when(pl.col("_reason").is_not_null()).then(pl.col("_reason"))
        .when(missing("request_id")).then(pl.lit("missing required field 'request_id'"))
        .when(~_t("request_id").is_in([T_STR, T_NUM])).then(pl.lit("'request_id' must be a string"))
        .when((_t("request_id") == T_NUM) & _s("request_id").is_null() & ~_n("request_id").is_finite())
        .then(pl.lit("'request_id' is not a finite number"))
        .when(_t("label") == T_NULL).then(pl.lit("missing required field 'label'"))
        .when((_t("label") == T_OTHER) | ((_t("label") == T_NUM) & ~_n("label").is_finite()))
        .then(pl.lit("'label' must be a number or a string"))
        .when(~_t("model").is_in([T_NULL, T_STR])).then(pl.lit("'model' must be a string"))
        .when((_t("ts") != T_NULL) & (pl.col("_ts").is_null() | (pl.col("_ts") < TS_MIN) | (pl.col("_ts") >= TS_MAX)))
        .then(pl.lit("unreadable 'ts'"))
        .when(pl.col("_ts") > pl.col("_ts_max")).then(pl.lit(IN_THE_FUTURE))
        .otherwise(None)
    )
    df = df.with_columns(reason.alias("_why"))
    src = [pl.col("_src")] if "_src" in df.columns else []
    bad = df.filter(pl.col("_why").is_not_null()).select("_line", "_offset", pl.col("_why").alias("reason"), *src)
    ok = df.filter(pl.col("_why").is_null())
    good = ok.select(
        *src,
        pl.when((_t("model") == T_STR) & (_s("model") != "")).then(_s("model")).alias("model"),
        _text("request_id").alias("request_id"),
        _value_text("label").alias("label"),
        pl.when(_t("label") == T_NUM).then(_n("label")).alias("label_num"),
        pl.col("_ts").alias("ts"),
        pl.col("_line").alias("line"),
    )
    return Validated(good=good, bad=bad)


def too_many_features(cap: int) -> str:
    """The quarantine reason of a record that would exceed ``max_features_per_model``."""
    return f"too many distinct features for this model (max_features_per_model = {cap})"


def _cap_features(df: pl.DataFrame, cap: int, known_of: Callable[[str], Collection[str]]) -> pl.DataFrame:
    """Quarantine (``_why``) the records that would give their model more than ``cap``
    distinct features. New features are admitted in order of their first record (then name)."""
    feats = [c[len(FEATURE_PREFIX):-2] for c in df.columns if c.startswith(FEATURE_PREFIX) and c.endswith("|t")]
    if not feats:
        return df
    ok = df["_why"].is_null() & (df["model|t"] == T_STR)
    models = df["model|s"]
    extra: list[int] = []
    why = too_many_features(cap)
    for model in models.filter(ok).unique(maintain_order=True).to_list():
        rows = ok & (models == model)
        sub = df.filter(rows)
        firsts = sub.select(
            [(pl.col(f"{FEATURE_PREFIX}{f}|t") != T_NULL).arg_true().first().alias(str(i)) for i, f in enumerate(feats)]
        ).row(0)
        known = set(known_of(model))
        new = sorted((first, f) for f, first in zip(feats, firsts, strict=True) if first is not None and f not in known)
        room = max(cap - len(known), 0)
        if len(new) <= room:
            continue
        rejected = [f for _, f in new[room:]]
        hit = sub.select(pl.any_horizontal([pl.col(f"{FEATURE_PREFIX}{f}|t") != T_NULL for f in rejected])).to_series()
        extra += rows.arg_true().filter(hit).to_list()
    if not extra:
        return df
    mark = pl.Series([False] * df.height).scatter(extra, True)
    return df.with_columns(pl.when(mark).then(pl.lit(why)).otherwise(pl.col("_why")).alias("_why"))


class FeatureCatalog:
    """Kinds and columns of features per model (kept in the checkpoint): registry kinds first,
    else inferred from the first value seen, then fixed."""

    def __init__(self, cp: Checkpoint, registry: Registry):
        self.cp = cp
        self.registry = registry

    def registry_kind(self, model: str, feature: str) -> str | None:
        for info in sorted(self.registry.versions.values(), key=lambda v: version_sort_key(v.version), reverse=True):
            if info.model == model and feature in info.features:
                return info.features[feature]
        return None

    def _column_for(self, feature: str, kind: str) -> str:
        base = f"f_{feature}"
        candidates = [base, f"{base}__{kind}"] + [f"{base}__{kind}{i}" for i in range(2, 1000)]
        for col in candidates:
            owner = self.cp.columns.get(col.lower())
            if owner is None:
                self.cp.columns[col.lower()] = [feature, kind]
                return col
            if owner == [feature, kind] and owner[0] == feature:
                # Same feature and kind: share the column only when the spelling matches too.
                return col
        raise ValueError(f"no free column for feature {feature!r}")

    def state(self, model: str, feature: str, first_tag: int | None) -> FeatureState:
        per_model = self.cp.features.setdefault(model, {})
        st = per_model.get(feature)
        if st is None:
            st = FeatureState(kind=None, kind_source="inferred", column=None)
            per_model[feature] = st
        if st.kind is None:
            kind = self.registry_kind(model, feature)
            if kind is not None:
                st.kind, st.kind_source = kind, "registry"
            elif first_tag == T_NUM:
                st.kind, st.kind_source = "numeric", "inferred"
            elif first_tag in (T_STR, T_BOOL):
                st.kind, st.kind_source = "categorical", "inferred"
            if st.kind is not None:
                st.column = self._column_for(feature, st.kind)
        return st


def apply_features(good: pl.DataFrame, features: list[str], catalog: FeatureCatalog) -> list[pl.DataFrame]:
    """Per model: tagged feature columns → typed ``f_*`` columns; counts type errors."""
    if good.height == 0:
        return []
    out = []
    parts = {(k,): v for k, v in split_by(good, "model")}
    drop = [f"{FEATURE_PREFIX}{f}|{k}" for f in features for k in ("t", "n", "s")]
    for key, sub in parts.items():
        model = key[0]
        if not features:
            out.append(sub)
            continue
        # one pass for every feature's statistics: any value, first value's tag, counts by tag
        stats_exprs = []
        for i, f in enumerate(features):
            tc = pl.col(f"{FEATURE_PREFIX}{f}|t")
            stats_exprs += [
                (tc != T_NULL).any().alias(f"a{i}"),
                tc.filter(tc.is_in([T_NUM, T_STR, T_BOOL])).first().alias(f"f{i}"),
                tc.is_in([T_STR, T_BOOL, T_OTHER]).sum().alias(f"n{i}"),
                (tc == T_OTHER).sum().alias(f"o{i}"),
            ]
        stats = sub.select(stats_exprs).row(0, named=True)
        exprs = []
        for i, f in enumerate(features):
            if not stats[f"a{i}"]:
                continue
            first = stats[f"f{i}"]
            st = catalog.state(model, f, int(first) if first is not None else None)
            tc, nc, sc = (pl.col(f"{FEATURE_PREFIX}{f}|{k}") for k in ("t", "n", "s"))
            if st.kind == "numeric":
                errors = int(stats[f"n{i}"])
                exprs.append(pl.when((tc == T_NUM) & nc.is_finite()).then(nc).alias(st.column))
            elif st.kind == "categorical":
                errors = int(stats[f"o{i}"])
                exprs.append(
                    pl.when(tc == T_NUM).then(pl.coalesce(sc, canonical_number_text(nc))).when(tc.is_in([T_STR, T_BOOL])).then(sc).alias(st.column)
                )
            else:
                errors = int(stats[f"o{i}"])
            st.type_errors += errors
            if st.kind is not None:
                st.written = True
        sub = sub.with_columns(exprs).drop(drop) if exprs else sub.drop(drop)
        out.append(sub)
    return out
