"""``aggregate.ExactSum``: a sum streamed in batches is ``math.fsum`` of all the values at once —
the same float, bit for bit, whatever the batches — on values chosen to make a naive or a
per-batch sum wrong (cancellation, magnitudes 2**±1000 apart, subnormals)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from console.profiles.aggregate import ExactSum

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


def _streamed(values: list[float], cuts: list[int]) -> ExactSum:
    s = ExactSum()
    at = 0
    for c in sorted(cuts) + [len(values)]:
        s.add(values[at:c])
        at = c
    return s


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(finite, max_size=60), st.lists(st.integers(0, 60), max_size=8))
def test_any_batches_give_fsum_of_all(values, cuts):
    cuts = [min(c, len(values)) for c in cuts]
    s = _streamed(values, cuts)
    assert s.n == len(values)
    assert math.fsum(values) == s.value()
    assert math.copysign(1, math.fsum(values)) == math.copysign(1, s.value())


def test_cancellation_and_far_apart_magnitudes_are_kept_exactly():
    rng = np.random.default_rng(7)
    big = [1e300, -1e300, 2.0**-1074, 1.0, -1.0 + 2.0**-52, 1e-300, 2.0**1000, -(2.0**1000)]
    values = big + rng.normal(0, 1e6, 5000).tolist() + [-x for x in rng.normal(0, 1e6, 5000).tolist()] + big[::-1]
    rng.shuffle(values)
    for parts in (1, 2, 7, 100):
        cuts = np.linspace(0, len(values), parts + 1).astype(int)[1:-1].tolist()
        assert _streamed(values, cuts).value() == math.fsum(values)
    assert ExactSum().value() == 0.0 and ExactSum().n == 0


def test_where_a_sum_of_per_batch_sums_is_wrong_the_exact_one_is_not():
    values = [1e16, 1.0, 1.0]  # 1e16 + 1 rounds (to even) back to 1e16, twice; the exact sum is 1e16 + 2
    assert math.fsum([math.fsum(values[:2]), math.fsum(values[2:])]) == 1e16
    assert _streamed(values, [2]).value() == math.fsum(values) == 1e16 + 2
