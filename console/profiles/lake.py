"""``trend`` and ``fleet`` over a folder of daily profiles alone (``--profiles DIR``): the
profiles Spark (or the local engine, ``profile --source``) wrote from a lake, for models that
never reach a store. docs/analytics.md, 'Answers from lake profiles'.

Nothing here reads a row or refreshes a day: the folder is what its last ``profile`` run wrote.
The figures are ``reader.summary``'s of the merged days — exact counts, error rates, cost and
confusion-table metrics, latency quantiles within the sketch's ``core.ALPHA``. A model's range
is its profiled days; ``--start``/``--end`` must be midnight UTC and windows whole days (the
profiles are daily). A model's features are the profiled columns it has values in (a lake's
columns are all its files'). The version is the one asked, else the workspace's production version when
the model is registered there, else every version merged (``"version": null``). Drift needs
the reference's own values, which a lake's profiles do not hold: it is not reported here
(``"drift": null`` with ``"why"``); ``trend`` and ``fleet`` on a store have it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from console.analytics import windows as W
from console.analytics.source import aware
from console.errors import UsageError
from console.profiles import core, local
from console.profiles.reader import DAY, day_aligned, days_in, fleet_row, summary

NO_DRIFT = "drift needs the reference's values, which lake profiles do not hold"


def lake_models(out: Path) -> list[str]:
    """The models with profiles in the folder ``out`` (one ``model=…`` folder each)."""
    from urllib.parse import unquote

    out = Path(out)
    if not out.is_dir():
        raise UsageError(f"{out}: no such folder of profiles")
    return sorted(unquote(f.name[len("model="):]) for f in out.glob("model=*") if f.is_dir())


def _check(out: Path, models: list[str]) -> list[str]:
    known = lake_models(out)
    for m in models:
        if m not in known:
            raise UsageError(f"no profiles of model {m!r} in {out} (it has: {', '.join(known) or 'none'})")
    return known


def _version(model: str, version: str | None, registry: Any, production: dict[str, str | None],
             prof: pa.Table) -> str | None:
    profiled = set(pc.unique(prof["version"]).to_pylist())
    if version is not None:
        if version not in profiled:
            raise UsageError(f"no profiles of {model} version {version}")
        return version
    v = production.get(model)
    return v if v in profiled and registry is not None and registry.get(model, v) is not None else None


def _task(registry: Any, model: str, version: str | None) -> str | None:
    info = registry.get(model, version) if registry is not None and version is not None else None
    return info.task if info is not None else None


def _features(prof: pa.Table) -> list[str]:
    """The model's features: the profiled columns it has a value in. A lake's columns are every
    file's (a column another model's files hold is profiled as all missing for this one)."""
    rows = pc.sum(prof.filter(pc.equal(prof["stat"], "rows"))["count"]).as_py() or 0
    miss = prof.filter(pc.is_in(prof["stat"], pa.array(["missing", "type_error"])))
    per = miss.group_by("column").aggregate([("count", "sum")]).to_pydict()
    return sorted(c for c, n in zip(per["column"], per["count_sum"], strict=True)
                  if c and c not in (core.LATENCY, core.COST) and n < rows)


def _range(prof: pa.Table, start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime] | None:
    if not prof.num_rows:
        return None
    days = prof["day"]
    lo = dt.datetime.combine(pc.min(days).as_py(), dt.time(), dt.UTC)
    hi = dt.datetime.combine(pc.max(days).as_py(), dt.time(), dt.UTC) + dt.timedelta(days=1)
    return (start or lo), (end or hi)


def _aligned(start: dt.datetime | None, end: dt.datetime | None, size: int | None) -> None:
    for t, flag in ((start, "--start"), (end, "--end")):
        if t is not None and day_aligned(None, t, t) is not None:
            raise UsageError(f"{flag} {W.iso(t)} is not a midnight UTC: lake profiles are daily")
    if size is not None and size % DAY:
        raise UsageError(f"a {W.size_label(size)} window is not whole days: lake profiles are daily")


def trend(out: Path, model: str, version: str | None = None, start: dt.datetime | None = None,
          end: dt.datetime | None = None, window: str | None = "1d", registry: Any = None,
          production: dict[str, str | None] | None = None) -> dict[str, Any]:
    """``reader.trend``'s answer from the profiles in ``out`` alone (module docstring)."""
    start, end = aware(start), aware(end)
    size = W.parse_window(window, "1d")
    _aligned(start, end, size)
    W.check_range(start, end)
    _check(Path(out), [model])
    prof = local.read_profiles(out, model=model, ordered=False)
    v = _version(model, version, registry, production or {}, prof)
    if v is None:  # every version: their reference bins differ, so no histogram is merged
        prof = prof.filter(pc.invert(pc.is_in(prof["stat"], pa.array(["edge", "hist"]))))
    else:
        prof = prof.filter(pc.equal(prof["version"], v))
    rep: dict[str, Any] = {"model": model, "version": v, "window": W.size_label(size), "start": None, "end": None,
                           "source": "profiles", "profiles": str(out), "why": NO_DRIFT, "windows": []}
    rng = _range(prof, start, end)
    if rng is None:
        return rep
    lo, hi = W.align_range(rng[0], rng[1], size if size is not None else DAY, start is not None, end is not None)
    rep["start"], rep["end"] = W.iso(lo), W.iso(hi)
    if lo >= hi:  # a --start after the profiled days (or an --end before them)
        return rep
    names, task = _features(prof), _task(registry, model, v)
    for w in W.split(lo, hi, size):
        rep["windows"].append({"start": W.iso(w.start), "end": W.iso(w.end),
                               **summary(core.merge(days_in(prof, w.start, w.end)), names, task), "drift": None})
    return rep


def fleet(out: Path, start: dt.datetime | None = None, end: dt.datetime | None = None,
          models: list[str] | None = None, registry: Any = None,
          production: dict[str, str | None] | None = None) -> dict[str, Any]:
    """``reader.fleet``'s answer from the profiles in ``out`` alone: one ``all`` window per model."""
    known = _check(Path(out), models or [])
    rows = [fleet_row(trend(out, m, None, start, end, window="all", registry=registry, production=production))
            for m in models or known]
    return {"source": "profiles", "profiles": str(out), "why": NO_DRIFT, "start": W.iso(aware(start)),
            "end": W.iso(aware(end)), "models": rows}


__all__ = ["fleet", "lake_models", "trend"]
