"""The bins of a numeric feature's distribution plot (reference vs current), kept apart from the
bins the drift scores use (Evidently's Sturges bins over both sides, ``stats.sturges_edges``):
those span every value, so one outlier of 1e9 puts the whole body in the first bin.

Plot bins clip instead. The body is the range from the lower of the two sides' 1st percentiles
to the higher of their 99th (each an actual value of its side, so nothing is interpolated) —
or every value when that range is at most ``FULL_RANGE`` times as wide (tails, not outliers) — cut
into about ``BODY_BINS`` equal bins on round edges (steps of 1, 2 or 5 × 10ⁿ). Values below or
above the body are counted in overflow bins labelled ``< x`` and ``> y``, present only when a
side has such values. Every value is in exactly one bin: the counts of a side sum to its size.
Edges and labels come from the sorted values alone, so the same data gives the same bins
whether a report is computed or read back from the cache.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BODY_BINS = 10
CLIP = 0.01
FULL_RANGE = 1.5
RULE = f"clip{CLIP}-full{FULL_RANGE}-body{BODY_BINS}-round"  # part of a cached drift report's key: a new rule recomputes


def compact(x: float) -> str:
    """A bin edge in at most 3 significant digits and a k/M/G suffix: ``8.5k``, ``1e+03G``."""
    if x == 0:
        return "0"
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}"


def _body(ref: np.ndarray, cur: np.ndarray, clip: float) -> tuple[float, float]:
    def lo(a: np.ndarray) -> float:
        return float(a[math.ceil(clip * (a.size - 1))])

    def hi(a: np.ndarray) -> float:
        return float(a[math.floor((1 - clip) * (a.size - 1))])

    body = min(lo(ref), lo(cur)), max(hi(ref), hi(cur))
    full = float(min(ref[0], cur[0])), float(max(ref[-1], cur[-1]))
    if full[1] - full[0] <= FULL_RANGE * (body[1] - body[0]):
        return full
    return body


def _step(span: float, bins: int) -> float:
    raw = span / bins
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-12))


def body_edges(lo: float, hi: float, bins: int = BODY_BINS) -> list[float]:
    """Round, equal-width edges from at or below ``lo`` to at or above ``hi`` (one bin of
    width 1 around a single value)."""
    if not hi > lo:
        return [lo, lo] if math.isfinite(lo) else [0.0, 0.0]
    step = _step(hi - lo, bins)
    k0, k1 = math.floor(lo / step), math.ceil(hi / step)
    return [float(k * step) for k in range(k0, max(k1, k0 + 1) + 1)]


def _counts(a: np.ndarray, edges: list[float]) -> tuple[int, list[int], int]:
    """Values below ``edges[0]``, per body bin ([a, b), the last closed), above ``edges[-1]``."""
    e = np.asarray(edges, dtype=np.float64)
    idx = np.empty(e.size, dtype=np.int64)
    idx[:-1] = np.searchsorted(a, e[:-1], side="left")
    idx[-1] = np.searchsorted(a, e[-1], side="right")
    return int(idx[0]), [int(c) for c in np.diff(idx)], int(a.size - idx[-1])


def plot_bins(ref_sorted: np.ndarray, cur_sorted: np.ndarray, bins: int = BODY_BINS,
              clip: float = CLIP) -> dict[str, Any]:
    """Both sides' counts and shares over the clipped body's bins and the overflow bins.
    ``ref_sorted``/``cur_sorted``: sorted finite values, neither empty."""
    lo, hi = _body(ref_sorted, cur_sorted, clip)
    edges = body_edges(lo, hi, bins)
    r_under, r_body, r_over = _counts(ref_sorted, edges)
    c_under, c_body, c_over = _counts(cur_sorted, edges)
    single = edges[0] == edges[-1]
    labels = [compact(edges[0])] if single else [compact(e) for e in edges[:-1]]
    ref_counts, cur_counts = list(r_body), list(c_body)
    if r_under or c_under:
        labels.insert(0, f"< {compact(edges[0])}")
        ref_counts.insert(0, r_under)
        cur_counts.insert(0, c_under)
    if r_over or c_over:
        labels.append(f"> {compact(edges[-1])}")
        ref_counts.append(r_over)
        cur_counts.append(c_over)
    return {"labels": labels, "edges": edges, "under": bool(r_under or c_under), "over": bool(r_over or c_over),
            "reference_counts": ref_counts, "current_counts": cur_counts,
            "reference": [c / ref_sorted.size for c in ref_counts],
            "current": [c / cur_sorted.size for c in cur_counts]}
