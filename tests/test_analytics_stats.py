"""console.analytics.stats against the reference implementations (scipy, and Evidently 0.7's
stattests transcribed below from its source), on seeded random data: small samples, ties,
constant columns, unseen categories. A relative difference above 1e-9 fails."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats as st
from scipy.spatial import distance

from console.analytics import stats

REL = 1e-9


def close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL * max(abs(a), abs(b)) or abs(a - b) <= 1e-300


# --- Evidently 0.7 reference (legacy/calculations/stattests), on plain lists ----------------


def ev_binned(ref, cur, numeric: bool, fill: bool):
    ref, cur = np.asarray(ref), np.asarray(cur)
    if numeric and len(set(ref.tolist())) > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        rp = np.histogram(ref, bins)[0] / len(ref)
        cp = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = list(set(ref.tolist()) | set(cur.tolist()))
        rc, cc = Counter(ref.tolist()), Counter(cur.tolist())
        rp = np.array([rc[k] / len(ref) for k in keys])
        cp = np.array([cc[k] / len(cur) for k in keys])
    if fill:
        for arr in (rp, cp):
            m = min(arr[arr != 0])
            np.place(arr, arr == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return rp, cp


def ev_psi(ref, cur, numeric=True):
    rp, cp = ev_binned(ref, cur, numeric, True)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


def ev_js(ref, cur, numeric=True):
    rp, cp = ev_binned(ref, cur, numeric, False)
    return float(distance.jensenshannon(rp, cp))


def ev_chisquare(ref, cur):
    keys = list(set(ref) | set(cur))
    rc, cc = Counter(ref), Counter(cur)
    k = len(cur) / len(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(st.chisquare([cc[x] for x in keys], [rc[x] * k for x in keys])[1])


def ev_z(ref, cur):
    if len(set(ref)) == 1 and len(set(cur)) == 1 and ref[0] == cur[0]:
        return 1.0
    key = sorted(set(ref) | set(cur))[0]
    r = [0 if x == key else 1 for x in ref]
    c = [0 if x == key else 1 for x in cur]
    n1, n2 = len(r), len(c)
    p1, p2 = sum(r) / n1, sum(c) / n2
    P = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
    return float(2 * (1 - st.norm.cdf(np.abs(z))))


def ev_wasserstein_normed(ref, cur):
    return st.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)


# --- numeric ------------------------------------------------------------------------------

NUMERIC_CASES = {
    "normal-small": lambda r: (r.normal(0, 1, 40), r.normal(0.3, 1, 55)),
    "normal-medium": lambda r: (r.normal(0, 1, 900), r.normal(0.1, 1.2, 700)),
    "large-asymp": lambda r: (r.normal(0, 1, 20_000), r.normal(0.02, 1, 15_000)),
    "ties-integers": lambda r: (r.integers(0, 8, 500).astype(float), r.integers(0, 9, 450).astype(float)),
    "ties-large": lambda r: (r.integers(0, 30, 12_000).astype(float), r.integers(2, 33, 11_000).astype(float)),
    "constant-ref": lambda r: (np.full(300, 2.5), r.normal(2.5, 1, 200)),
    "both-constant": lambda r: (np.full(50, 1.0), np.full(60, 1.0)),
    "tiny": lambda r: (np.array([1.0, 2.0, 3.0]), np.array([2.5])),
    "heavy-tail": lambda r: (r.standard_cauchy(3000), r.standard_cauchy(2500) * 1.1),
    "wide-scale": lambda r: (r.lognormal(10, 2, 1500), r.lognormal(10.2, 2, 1600)),
}


@pytest.mark.parametrize("case", sorted(NUMERIC_CASES))
def test_numeric_statistics_match_scipy_and_evidently(case: str) -> None:
    rng = np.random.default_rng(sum(map(ord, case)))
    ref, cur = NUMERIC_CASES[case](rng)
    a, b = stats.sort_finite(ref), stats.sort_finite(cur)
    got = stats.compare_numeric(a, b)
    ks = st.ks_2samp(ref, cur)
    assert close(got.ks, float(ks.statistic))
    assert close(got.ks_pvalue, float(ks.pvalue))
    assert close(got.wasserstein, st.wasserstein_distance(ref, cur))
    assert close(got.wasserstein_normed, ev_wasserstein_normed(ref, cur))
    assert got.distinct == len(set(ref.tolist()) | set(cur.tolist())) == stats.n_distinct_union(a, b)
    r_sh, c_sh = stats.binned_shares_numeric(a, b)
    assert close(stats.psi(r_sh, c_sh), ev_psi(ref, cur))
    assert close(stats.jensenshannon(r_sh, c_sh), ev_js(ref, cur))


@pytest.mark.parametrize("n_a,n_b", [(1, 1), (3, 2000), (2000, 3), (500, 500), (10_000, 70_000)])
def test_the_merge_of_two_sorted_samples_is_a_stable_argsort(n_a: int, n_b: int) -> None:
    """``_merge`` slots the shorter sample into the longer; it must equal the stable argsort of
    their concatenation — ties (a's copy first), signed zeros and all — in either order."""
    rng = np.random.default_rng(n_a * 7 + n_b)
    for pool in (np.array([-1.5, -0.0, 0.0, 2.0, 7.25]), rng.normal(size=50), None):
        def draw(n, pool=pool):
            x = rng.choice(pool, n) if pool is not None else rng.normal(size=n)
            x.sort(kind="stable")
            return x
        a, b = draw(n_a), draw(n_b)
        both = np.concatenate([a, b])
        order = np.argsort(both, kind="stable")
        values, from_a = stats._merge(a, b)
        assert values.tobytes() == both[order].tobytes()  # bit for bit: -0.0 and 0.0 in place
        assert np.array_equal(from_a, order < a.size)


def test_sturges_edges_equal_numpy_on_many_shapes() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n1, n2 = rng.integers(1, 3000, 2)
        scale = 10.0 ** rng.integers(-6, 7)
        ref = rng.normal(rng.normal(), 1, n1) * scale
        cur = rng.normal(rng.normal(), 2, n2) * scale
        want = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        got = stats.sturges_edges(np.sort(ref), np.sort(cur))
        assert np.array_equal(want, got)
        assert np.array_equal(np.histogram(ref, want)[0], stats.histogram_sorted(np.sort(ref), got))


def test_sort_finite_drops_nulls_and_infinities() -> None:
    got = stats.sort_finite(np.array([3.0, np.nan, -np.inf, 1.0, np.inf, 2.0]))
    assert got.tolist() == [1.0, 2.0, 3.0]


def test_empty_sample_is_refused() -> None:
    with pytest.raises(ValueError):
        stats.compare_numeric(np.array([]), np.array([1.0]))


# --- categorical -------------------------------------------------------------------------

CAT_CASES = {
    "three-cats": lambda r: (r.choice(list("abc"), 300, p=[0.5, 0.3, 0.2]), r.choice(list("abc"), 250, p=[0.4, 0.4, 0.2])),
    "many-cats": lambda r: (r.choice(list("abcdefghij"), 2000), r.choice(list("abcdefghij"), 1500)),
    "unseen-category": lambda r: (r.choice(list("ab"), 200), r.choice(list("abz"), 180)),
    "missing-category-in-current": lambda r: (r.choice(list("abcd"), 400), r.choice(list("ab"), 100)),
    "binary": lambda r: (r.choice(["x", "y"], 500, p=[0.7, 0.3]), r.choice(["x", "y"], 400, p=[0.6, 0.4])),
    "binary-one-sided": lambda r: (np.array(["x"] * 50), r.choice(["x", "y"], 40)),
    "constant-same": lambda r: (np.array(["k"] * 30), np.array(["k"] * 20)),
    "constant-different": lambda r: (np.array(["k"] * 30), np.array(["m"] * 20)),
    "small": lambda r: (np.array(["a", "b", "b"]), np.array(["b", "c"])),
}


@pytest.mark.parametrize("case", sorted(CAT_CASES))
def test_categorical_statistics_match_evidently(case: str) -> None:
    rng = np.random.default_rng(sum(map(ord, case)))
    ref, cur = (x.tolist() for x in CAT_CASES[case](rng))
    rc, cc = Counter(ref), Counter(cur)
    got = stats.compare_categorical(rc, cc)
    assert close(got["chisquare_pvalue"], ev_chisquare(ref, cur) if not math.isnan(ev_chisquare(ref, cur)) else 0.0)
    assert close(got["psi"], ev_psi(ref, cur, numeric=False))
    assert close(got["jensenshannon"], ev_js(ref, cur, numeric=False))
    if len(set(ref) | set(cur)) <= 2:
        assert close(got["z_pvalue"], ev_z(ref, cur))


def test_unseen_category_is_chisquare_drift() -> None:
    p = stats.chisquare_test({"a": 50, "b": 50}, {"a": 40, "b": 40, "new": 1})
    assert p == 0.0
    assert stats.is_drift("chisquare", p, 0.05)


def test_chisquare_matches_scipy_directly() -> None:
    rng = np.random.default_rng(3)
    ref = Counter(rng.choice(list("abcde"), 700).tolist())
    cur = Counter(rng.choice(list("abcde"), 333).tolist())
    keys = sorted(ref)
    f_obs = [cur[k] for k in keys]
    f_exp = [ref[k] * 333 / 700 for k in keys]
    assert close(stats.chisquare_test(ref, cur), float(st.chisquare(f_obs, f_exp).pvalue))


def test_numeric_small_distinct_values_as_categories_match_evidently() -> None:
    rng = np.random.default_rng(11)
    ref = rng.integers(0, 4, 800).astype(float)
    cur = rng.integers(0, 5, 600).astype(float)
    a, b = stats.sort_finite(ref), stats.sort_finite(cur)
    got = stats.chisquare_test(stats.counts_from_sorted(a), stats.counts_from_sorted(b))
    assert close(got, 0.0 if math.isnan(ev_chisquare(ref.tolist(), cur.tolist())) else ev_chisquare(ref.tolist(), cur.tolist()))
    zr = rng.integers(0, 2, 300).astype(float)
    zc = rng.integers(0, 2, 200).astype(float)
    got_z = stats.z_test(stats.counts_from_sorted(np.sort(zr)), stats.counts_from_sorted(np.sort(zc)))
    assert close(got_z, ev_z(zr.tolist(), zc.tolist()))


# --- method selection and decisions (docs/analytics.md, 'Drift') -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "n_ref", "n_distinct", "method"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("categorical", 10, 40, "chisquare"),
        ("categorical", 10, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 5000, 2, "jensenshannon"),
    ],
)
def test_default_method_follows_evidently(kind, n_ref, n_distinct, method) -> None:
    assert stats.default_method(kind, n_ref, n_distinct) == method


def test_decision_rules_at_the_threshold() -> None:
    assert stats.is_drift("ks", 0.05, 0.05)
    assert not stats.is_drift("chisquare", 0.05, 0.05)
    assert not stats.is_drift("z", 0.05, 0.05)
    assert stats.is_drift("wasserstein", 0.1, 0.1)
    assert stats.is_drift("jensenshannon", 0.1, 0.1)
    assert not stats.is_drift("jensenshannon", 0.0999, 0.1)


# --- proportions ---------------------------------------------------------------------------


def test_wilson_interval_matches_scipy() -> None:
    for k, n in [(81, 263), (0, 10), (10, 10), (1, 1), (500, 1000), (3, 31)]:
        ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        lo, hi = stats.wilson_interval(k, n)
        assert abs(lo - ci.low) < 1e-12 and abs(hi - ci.high) < 1e-12
    assert stats.wilson_interval(0, 0) is None


def test_two_proportion_less_pvalue_against_normal_cdf() -> None:
    x1, n1, x2, n2 = 60, 100, 800, 1000
    p = (x1 + x2) / (n1 + n2)
    z = (0.6 - 0.8) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    assert close(stats.two_proportion_less_pvalue(x1, n1, x2, n2), float(st.norm.cdf(z)))
    assert stats.two_proportion_less_pvalue(10, 10, 20, 20) == 1.0


def test_holm_adjust() -> None:
    assert stats.holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm_adjust([]) == []


def test_kstwo_sf_matches_scipy_including_the_large_sample_series() -> None:
    from scipy.special import smirnov

    for n in (141, 999, 20_000, 150_000):
        for d in (0.5 / n, 1.2 / n, 0.0005, 0.002, 0.004, 0.01, 0.03, 0.2):
            want = float(st.distributions.kstwo.sf(d, n))
            got = stats.kstwo_sf(d, n)
            assert abs(got - want) <= 1e-9 * max(want, 1e-300) or abs(got - want) < 1e-300, (n, d, got, want)
    assert close(stats.smirnov_sf(500_000, 0.003), float(smirnov(500_000, 0.003)))
