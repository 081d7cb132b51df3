"""The sample's live traffic: predictions made by running the trained models, day by day.

Each model is served the way a real service of its kind would log:

- ``credit-risk``: JSONL with a nested ``features`` object, one file a day, rotated files
  gzipped (``predictions-2026-11-01.jsonl.gz``), the last day plain; October files were
  written by the old service, which logged ``version`` as a number. Version 3 scores a share of
  requests in shadow from ``SHADOW_DAY`` (same ``request_id``). Labels (early default) arrive
  1–7 days late: most from the collections feed (JSONL, with ``model``), some from manual
  review (CSV, without ``model``). From ``CAMPAIGN_DAY`` a broker's mailing brings borderline
  applicants (``population.credit_campaign``), days whose labels have hardly begun to arrive.
- ``delivery-eta``: CSV with epoch-second ``ts`` and zero-padded ``request_id`` (``"004213"``);
  labels (actual minutes) in CSV when the order is delivered.
- ``ticket-router``: one Parquet file a day with a timestamp column and ``cost_usd`` per
  request; labels (the queue that resolved it) in JSONL 1–3 days later.

Every function returns ``Facts``: what was written, for the sample's README and for tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from console.samplegen import population as pop
from console.samplegen import timeline as tl
from console.samplegen.training import Trained
from console.samplegen.writers import json_line, write_csv, write_jsonl, write_parquet

DAY_MS = 86_400_000
NORTH_SHOCK = 1.8  # extra default log-odds in region=north from SLICE_DAY
LABEL_PLAIN_DAYS = 3  # label files of the last days stay plain; older ones are gzipped


@dataclass
class Facts:
    """Counts and numbers about what was generated (per model)."""

    predictions: int = 0
    errors: int = 0
    labels: int = 0
    malformed: int = 0
    duplicates: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _weekend(day: dt.date) -> bool:
    return day.weekday() >= 5


def _count(rng: np.random.Generator, base: float, factor: float) -> int:
    return max(8, int(round(base * factor * (1 + 0.06 * rng.standard_normal()))))


def _num(v: float) -> int | float | None:
    """A JSON number: integral values as ints, NaN as null."""
    if v != v:
        return None
    return int(v) if float(v).is_integer() else float(v)


def _label_files(root: Path, events: list[tuple[int, dict[str, Any]]], folder: str, name: str,
                 kind: str, header: list[str] | None = None) -> int:
    """Write label events (arrival ms, record) into one file per arrival day."""
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for arrival, rec in sorted(events, key=lambda e: (e[0], e[1]["request_id"])):
        by_day.setdefault(tl.iso_date(arrival), []).append(rec)
    for day, recs in by_day.items():
        gz = day < tl.END - dt.timedelta(days=LABEL_PLAIN_DAYS - 1)  # older feeds are archived
        path = root / "labels" / folder / f"{name}-{day.isoformat()}.{kind}{'.gz' if gz else ''}"
        if kind == "jsonl":
            write_jsonl(path, recs, gz=gz)
        else:
            write_csv(path, header or [], [[r.get(h) for h in header or []] for r in recs], gz=gz)
    return len(events)


# -- credit-risk -------------------------------------------------------------------------------

def credit_risk(root: Path, v2: Trained, v3: Trained, seed: int, scale: float) -> Facts:
    facts = Facts(extra={"shadow_predictions": 0, "campaign_served": 0, "campaign_labelled": 0})
    collections: list[tuple[int, dict[str, Any]]] = []
    manual: list[tuple[int, dict[str, Any]]] = []
    files: list[tuple[dt.date, list[str]]] = []
    slice_acc = {k: [0, 0] for k in ("before_all", "after_all", "before_north", "after_north")}
    for di, day in enumerate(tl.days()):
        rng = np.random.default_rng([seed, 1, di])
        n = _count(rng, 1500 * scale, 0.7 if _weekend(day) else 1.0)
        ts = tl.times_of_day(rng, day, n, tl.BUSINESS_HOURS)
        f = pop.credit_features(rng, n, shifted=day >= tl.DRIFT_DAY)
        if day >= tl.CAMPAIGN_DAY:  # a generator of its own: every other draw of the day is unchanged
            f = pop.credit_campaign(np.random.default_rng([seed, 1, di, 1]), f, tl.CAMPAIGN_SHARE)
        shock = NORTH_SHOCK if day >= tl.SLICE_DAY else 0.0
        truth = (rng.random(n) < pop.credit_default_probability(f, shock)).astype(int)
        score = v2.score(f)
        pred = (score >= v2.threshold).astype(int)
        latency, error = _credit_serving(rng, day, ts)
        ok = np.array([e is None for e in error])
        if day < tl.DRIFT_DAY:  # the slice story is told on the pre-drift population
            period = "before" if day < tl.SLICE_DAY else "after"
            hit, north = (pred == truth) & ok, f["region"] == "north"
            for key, mask in ((f"{period}_all", ok), (f"{period}_north", ok & north)):
                slice_acc[key][0] += int((hit & mask).sum())
                slice_acc[key][1] += int(mask.sum())

        rid = [f"cr-{day:%Y%m%d}-{i:05d}" for i in range(n)]
        feats = [_features(f, i) for i in range(n)]
        version: str | int = 2 if day < dt.date(2026, 11, 1) else "2"  # the old service: a number
        recs = [_credit_record(int(ts[i]), version, rid[i], feats[i], pred[i], score[i], latency[i], error[i])
                for i in range(n)]
        facts.predictions += n
        facts.errors += int((~ok).sum())

        if day >= tl.SHADOW_DAY:  # v3 in shadow on a share of the requests that were served
            sh = np.flatnonzero(ok & (rng.random(n) < tl.SHADOW_SHARE))
            s3 = v3.score({k: v[sh] for k, v in f.items()})
            lat3 = rng.lognormal(np.log(55), 0.3, len(sh))
            off = rng.integers(2, 40, len(sh))
            recs += [_credit_record(int(ts[i] + off[j]), "3", rid[i], feats[i], int(s3[j] >= v3.threshold),
                                    s3[j], lat3[j], None) for j, i in enumerate(sh)]
            facts.extra["shadow_predictions"] += len(sh)
            facts.predictions += len(sh)

        labelled = ok & (rng.random(n) < 0.7)
        arrival = (ts + rng.uniform(1.0, 7.0, n) * DAY_MS).astype(np.int64)
        from_manual = rng.random(n) < 0.2
        arrived = np.flatnonzero(labelled & (arrival < tl.NOW_MS))
        if day >= tl.CAMPAIGN_DAY:  # the campaign's days: how many of their labels are in by NOW
            facts.extra["campaign_served"] += int(ok.sum())
            facts.extra["campaign_labelled"] += len(arrived)
        for i in arrived:
            rec = {"request_id": rid[i], "label": int(truth[i]), "ts": tl.rfc3339(int(arrival[i]))}
            if from_manual[i]:
                manual.append((int(arrival[i]), rec))
            else:
                collections.append((int(arrival[i]), {"request_id": rid[i], "model": "credit-risk", **rec}))
        recs.sort(key=lambda r: r[0])
        files.append((day, [line for _, line in recs]))

    when = tl.NOW_MS - 5 * 3_600_000  # a label line without its label: quarantined
    bad_day = tl.END - dt.timedelta(days=2)
    collections.append((when, {"request_id": f"cr-{bad_day:%Y%m%d}-00007", "model": "credit-risk",
                               "ts": tl.rfc3339(when)}))
    facts.duplicates = _credit_duplicates(files, np.random.default_rng([seed, 11]))
    facts.malformed = _credit_malformed(files)
    for idx, (day, lines) in enumerate(files):
        last = idx == len(files) - 1
        name = f"predictions-{day.isoformat()}.jsonl" + ("" if last else ".gz")
        write_jsonl(root / "logs" / "credit-risk" / name, lines, gz=not last)
    facts.labels = _label_files(root, collections, "credit-risk", "collections", "jsonl") - 1
    facts.labels += _label_files(root, manual, "credit-risk", "manual-review", "csv",
                                 header=["request_id", "label", "ts"])
    facts.extra["slice_accuracy"] = {k: round(a / max(b, 1), 4) for k, (a, b) in slice_acc.items()}
    return facts


def _credit_serving(rng: np.random.Generator, day: dt.date, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latency and error text (None when served) of credit-risk v2, with the spike on its day."""
    n = len(ts)
    latency = rng.lognormal(np.log(38), 0.3, n)
    error = np.full(n, None, dtype=object)
    error[rng.random(n) < 0.001] = "bureau-api: connection reset by peer"
    if day == tl.SPIKE_DAY:
        hour = tl.hour_of(ts)
        spike = (hour >= tl.SPIKE_HOURS[0]) & (hour < tl.SPIKE_HOURS[1])
        latency[spike] *= rng.lognormal(np.log(14), 0.4, int(spike.sum()))
        timeouts = spike & (rng.random(n) < 0.04)
        error[timeouts] = "upstream timeout: bureau-api did not answer within 2000 ms"
        latency[timeouts] = 2000 + rng.random(int(timeouts.sum())) * 60
    return latency, error


def _credit_record(ts: int, version: str | int, rid: str, feats: dict[str, Any], pred: Any, score: float,
                   latency: float, error: str | None) -> tuple[int, str]:
    """(ts, JSONL line) of one credit-risk prediction; an error record has no prediction."""
    rec: dict[str, Any] = {"ts": tl.rfc3339(ts), "model": "credit-risk", "version": version,
                           "request_id": rid, "features": feats}
    if error is None:
        rec.update(prediction=int(pred), score=round(float(score), 4))
    rec["latency_ms"] = round(float(latency), 1)
    rec["status"] = "ok" if error is None else "error"
    if error is not None:
        rec["error"] = error
    return ts, json_line(rec)


def _features(f: pop.Columns, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in pop.CREDIT_NUMERIC:
        out[name] = _num(float(f[name][i]))
    for name in pop.CREDIT_CATEGORICAL:
        out[name] = f[name][i]
    return out


def _credit_duplicates(files: list[tuple[dt.date, list[str]]], rng: np.random.Generator) -> int:
    """Client retries: a record logged twice, next to itself or again after rotation."""
    dups = 0
    for idx in rng.choice(len(files), size=8, replace=False):
        lines = files[idx][1]
        for pos in sorted(rng.choice(len(lines) - 1, size=2, replace=False), reverse=True):
            lines.insert(pos + 1, lines[pos])
            dups += 1
    for idx in range(3, len(files), 7):  # the last lines before rotation, repeated in the next file
        prev, nxt = files[idx - 1][1], files[idx][1]
        nxt[0:0] = prev[-2:]
        dups += 2
    return dups


def _credit_malformed(files: list[tuple[dt.date, list[str]]]) -> int:
    """Lines quarantine must catch (docs/formats.md, 'When a record is wrong'), plus one feature of the wrong type."""
    today = files[-1][1]
    day = files[-1][0]
    base = '"model":"credit-risk","version":"2"'
    feats = '"features":{"income":48200,"age":39,"debt_ratio":0.31,"region":"south","channel":"web","employment":"salaried"}'
    bad = [
        '{"ts":"' + f"{day}T10:15:02.114Z" + '",' + base + ',"request_id":"cr-x-trunc","featu\n',  # cut JSON
        '{"ts":"' + f"{day}T10:16:40.001Z" + '",' + base + ',' + feats + ',"prediction":0,"score":0.12}\n',  # no request_id
        '{"ts":"' + f"{day}T10:17:05.250Z" + '",' + base + ',"request_id":"cr-bad-score",' + feats + ',"prediction":1,"score":1.7}\n',
        '{"ts":"' + f"{day}T10:18:11.900Z" + '",' + base + ',"request_id":"cr-bad-latency",' + feats + ',"prediction":0,"score":0.21,"latency_ms":-12.5}\n',
        '{"ts":"21/11/2026 10:19",' + base + ',"request_id":"cr-bad-ts",' + feats + ',"prediction":0,"score":0.08}\n',
    ]
    for k, line in enumerate(bad):
        today.insert(200 + 37 * k if len(today) > 400 else min(len(today), 3 + k), line)
    # ingested, but income becomes null and the feature's type-error counter says so
    typo = ('{"ts":"' + f"{day}T10:21:00.000Z" + '",' + base + ',"request_id":"cr-type-error",'
            + feats.replace("48200", '"n/a"') + ',"prediction":0,"score":0.3,"latency_ms":40.2,"status":"ok"}\n')
    today.insert(min(len(today), 420), typo)
    # a rotated file with a line cut in half by a crash of the writer
    older = files[len(files) // 2][1]
    older.insert(len(older) // 2, '{"ts":"' + f"{files[len(files) // 2][0]}T13:00:00.000Z" + '","model":"credit-\n')
    return len(bad) + 1


# -- delivery-eta -----------------------------------------------------------------------------

DELIVERY_HEADER = ["ts", "model", "version", "request_id", *pop.DELIVERY_NUMERIC, *pop.DELIVERY_CATEGORICAL,
                   "prediction", "latency_ms", "status", "error"]


def delivery_eta(root: Path, v2: Trained, seed: int, scale: float) -> Facts:
    facts = Facts()
    labels: list[tuple[int, dict[str, Any]]] = []
    counter = 0
    days = tl.days()
    for di, day in enumerate(days):
        rng = np.random.default_rng([seed, 2, di])
        n = _count(rng, 1100 * scale, 1.25 if _weekend(day) else 1.0)
        ts = tl.times_of_day(rng, day, n, tl.MEAL_HOURS)
        f = pop.delivery_features(rng, n, tl.hour_of(ts))
        truth = pop.delivery_minutes(rng, f)
        pred = v2.predict(f).round(1)
        latency = rng.lognormal(np.log(22), 0.35, n)
        error = np.full(n, "", dtype=object)
        error[rng.random(n) < 0.002] = "geo lookup failed: unknown postcode"
        if day == tl.ERROR_DAY:
            hour = tl.hour_of(ts)
            burst = (hour >= tl.ERROR_HOURS[0]) & (hour < tl.ERROR_HOURS[1]) & (rng.random(n) < 0.35)
            error[burst] = "upstream timeout: routing-service did not answer within 2000 ms"
            latency[burst] = 2000 + rng.random(int(burst.sum())) * 80
        ok = error == ""
        # the weather feed fails: the field is logged empty (the model had scored with it). A
        # generator of its own, so every other number of the day is the same as without it.
        no_weather = np.zeros(n, dtype=bool)
        if day >= tl.WEATHER_DAY:
            no_weather = np.random.default_rng([seed, 2, di, 1]).random(n) < tl.WEATHER_GAP
        rows: list[list[Any] | str] = []
        for i in range(n):
            counter += 1
            rid = f"{counter:06d}"
            rows.append([
                f"{ts[i] / 1000:.3f}", "delivery-eta", "2", rid,
                f"{f['distance_km'][i]:.2f}", int(f["items"][i]), int(f["hour"][i]),
                f["city"][i], f["courier"][i], "" if no_weather[i] else f["weather"][i],
                f"{pred[i]:.1f}" if ok[i] else "", f"{latency[i]:.1f}",
                "ok" if ok[i] else "error", error[i],
            ])
            if ok[i] and rng.random() < 0.88:
                arrival = int(ts[i] + truth[i] * 60_000)
                if arrival < tl.NOW_MS:
                    labels.append((arrival, {"request_id": rid, "model": "delivery-eta",
                                             "label": float(truth[i]), "ts": tl.rfc3339(arrival)}))
        facts.predictions += n
        facts.errors += int((~ok).sum())
        if di % 4 == 1:  # the retrying HTTP client logged a few rows twice
            for pos in sorted(rng.choice(n - 1, size=3, replace=False), reverse=True):
                rows.insert(pos + 1, rows[pos])
                facts.duplicates += 1
        if day == days[-1]:
            rows.insert(50, f"2026-13-45T25:00:00Z,delivery-eta,2,{counter + 1:06d},3.20,2,13,lisbon,bike,clear,31.0,20.1,ok,\n")
            rows.insert(90, f"{ts[0] / 1000:.3f},delivery-eta,2,{counter + 2:06d},1.10,1,13,porto,car,rain,19.5,-3.0,ok,\n")
            rows.insert(120, f"{ts[0] / 1000:.3f},delivery-eta,2,,2.00,3,13,braga,scooter,clear,24.0,18.0,ok,\n")
            facts.malformed += 3
        last = day == days[-1]
        name = f"eta-{day.isoformat()}.csv" + ("" if last else ".gz")
        write_csv(root / "logs" / "delivery-eta" / name, DELIVERY_HEADER, rows, gz=not last)
    facts.labels = _label_files(root, labels, "delivery-eta", "delivered", "csv",
                                header=["request_id", "model", "label", "ts"])
    return facts


# -- ticket-router ----------------------------------------------------------------------------


def ticket_router(root: Path, v1: Trained, seed: int, scale: float, budget_usd: float) -> Facts:
    facts = Facts()
    labels: list[tuple[int, dict[str, Any]]] = []
    month_cost: dict[str, float] = {}
    over_budget_day: str | None = None
    for di, day in enumerate(tl.days()):
        rng = np.random.default_rng([seed, 3, di])
        base = 1000 if day >= tl.LAUNCH_DAY else 450
        n = _count(rng, base * scale, 0.6 if _weekend(day) else 1.0)
        ts = tl.times_of_day(rng, day, n, tl.SUPPORT_HOURS)
        f = pop.ticket_features(rng, n, tl.hour_of(ts))
        truth = pop.ticket_queue(rng, f)
        pred = v1.predict(f)
        latency = rng.lognormal(np.log(420), 0.35, n)
        cost = (0.0022 + 0.000035 * f["words"]).round(6)
        error = np.full(n, None, dtype=object)
        error[rng.random(n) < 0.003] = "llm-gateway: 429 rate limited"
        ok = np.array([e is None for e in error])
        prediction = np.where(ok, pred, None)
        if di == 10:  # a billing bug upstream: one negative cost, quarantined
            cost[5] = -cost[5]
            facts.malformed += 1
        month = day.strftime("%Y-%m")
        month_cost[month] = month_cost.get(month, 0.0) + float(cost[cost > 0].sum())
        if over_budget_day is None and month_cost[month] > budget_usd:
            over_budget_day = day.isoformat()
        table = pa.table({
            "ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC")),
            "model": pa.array(["ticket-router"] * n),
            "version": pa.array(["1"] * n),
            "request_id": pa.array([f"T-{day:%y%m%d}{i:04d}" for i in range(n)]),
            **{c: pa.array(f[c], type=pa.float64()) for c in pop.TICKET_NUMERIC},
            **{c: pa.array(f[c].tolist(), type=pa.string()) for c in pop.TICKET_CATEGORICAL},
            "prediction": pa.array(prediction.tolist(), type=pa.string()),
            "latency_ms": pa.array(latency.round(1)),
            "status": pa.array(np.where(ok, "ok", "error").tolist()),
            "error": pa.array(error.tolist(), type=pa.string()),
            "cost_usd": pa.array(cost),
        })
        write_parquet(root / "logs" / "ticket-router" / f"tickets-{day.isoformat()}.parquet", table)
        facts.predictions += n
        facts.errors += int((~ok).sum())
        labelled = ok & (rng.random(n) < 0.65)
        arrival = (ts + rng.uniform(1.0, 3.0, n) * DAY_MS).astype(np.int64)
        rids = table.column("request_id").to_pylist()
        for i in np.flatnonzero(labelled & (arrival < tl.NOW_MS)):
            labels.append((int(arrival[i]), {"request_id": rids[i], "model": "ticket-router",
                                             "label": truth[i], "ts": tl.rfc3339(int(arrival[i]))}))
    facts.labels = _label_files(root, labels, "ticket-router", "resolved", "jsonl")
    facts.extra["serving_usd_by_month"] = {k: round(v, 2) for k, v in month_cost.items()}
    facts.extra["over_budget_day"] = over_budget_day
    return facts
