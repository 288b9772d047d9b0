"""The fused kernels' own log / log1p / exp against numpy, across their whole domains."""

import numba
import numpy as np
import pytest

from lossbench.losses import fused, softmax_fused


def _elementwise(function):
    @numba.njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = function(x[i])

    def run(x):
        out = np.empty_like(x)
        apply(x, out)
        return out

    return run


def _component(function, index):
    """The index-th result of a helper that returns a tuple, as a one-result function."""

    @numba.njit(inline="always")
    def pick(x):
        return function(x)[index]

    return pick


_log1p64, _log1p32 = _component(fused._log1p_recip, 0), _component(fused._log1p_recip_f32, 0)
_log_p64, _log_1mp64 = _component(fused._bce_logs, 0), _component(fused._bce_logs, 1)
_log_p32, _log_1mp32 = _component(fused._bce_logs_f32, 0), _component(fused._bce_logs_f32, 1)


rng = np.random.default_rng(7)
PROBABILITIES = np.concatenate(
    [np.logspace(-15, -0.302, 3000), 1 - np.logspace(-15, -0.302, 3000), rng.uniform(0, 1, 5000)]
)


def _to(cut_off: float, spread: float, smallest: int) -> np.ndarray:
    """x ≤ 0 down to `cut_off`: normal draws folded into it, magnitudes log-spaced from
    10^smallest, and both ends."""
    return np.concatenate(
        [
            -np.abs(rng.normal(0, spread, 20000)) % cut_off,
            -np.logspace(smallest, np.log10(cut_off), 2000),
            [0.0, -cut_off],
        ]
    )


CASES = [
    # name, function, dtype, inputs, reference (computed in float64)
    # the softmax kernels' exps: to their cut-offs (below, 0: tested apart)
    ("softmax exp64", softmax_fused._exp_normal, np.float64, _to(708.0, 200, -300), np.exp),
    ("softmax exp32", softmax_fused._exp_normal_f32, np.float32, _to(87.33, 30, -30), np.exp),
    (
        "exp64",
        fused._exp_nonpositive,
        np.float64,
        np.concatenate(
            [
                -np.abs(rng.normal(0, 200, 20000)),
                -np.logspace(-300, 2.87, 2000),
                [0.0, -708.4, -709.9, -744.4, -745.2, -746.0],
            ]
        ),
        np.exp,
    ),
    (
        "exp32",
        fused._exp_nonpositive_f32,
        np.float32,
        np.concatenate(
            [
                -np.abs(rng.normal(0, 30, 20000)),
                -np.logspace(-30, 2.01, 2000),
                [0.0, -87.0, -88.5, -100.0, -103.0],
            ]
        ),
        np.exp,
    ),
    (
        "log1p64",
        _log1p64,
        np.float64,
        np.concatenate(
            [
                rng.uniform(-1, 1, 20000),
                np.logspace(-300, 0, 2000),
                -np.logspace(-300, -1e-12, 2000),
            ]
        ),
        np.log1p,
    ),
    (
        "log1p32",
        _log1p32,
        np.float32,
        np.concatenate(
            [rng.uniform(-1, 1, 20000), np.logspace(-37, 0, 2000), -np.logspace(-37, -1e-6, 2000)]
        ),
        np.log1p,
    ),
    ("log p (bce, 64)", _log_p64, np.float64, PROBABILITIES, np.log),
    ("log(1 - p) (bce, 64)", _log_1mp64, np.float64, PROBABILITIES, lambda p: np.log1p(-p)),
    ("log p (bce, 32)", _log_p32, np.float32, PROBABILITIES, np.log),
    ("log(1 - p) (bce, 32)", _log_1mp32, np.float32, PROBABILITIES, lambda p: np.log1p(-p)),
]


@pytest.mark.parametrize(
    ("name", "function", "dtype", "x", "reference"), CASES, ids=[c[0] for c in CASES]
)
def test_within_a_few_ulps(name, function, dtype, x, reference):
    x = x.astype(dtype)
    x = x[(x > 0) & (x < 1)] if "bce" in name else x[x > -1] if "log1p" in name else x
    actual = _elementwise(function)(x).astype(np.float64)
    expected = reference(x.astype(np.float64))
    tiny = np.finfo(dtype).tiny
    normal = np.abs(expected) >= tiny
    ulps = np.abs(actual[normal] - expected[normal]) / (
        np.abs(expected[normal]) * np.finfo(dtype).eps
    )
    assert ulps.max() <= 4, f"{name}: {ulps.max():.1f} ulps at x={x[normal][ulps.argmax()]!r}"
    # below the normal range (exp's underflow) the spacing is absolute
    spacing = np.finfo(dtype).smallest_subnormal
    np.testing.assert_array_less(np.abs(actual[~normal] - expected[~normal]), 2 * spacing)


@pytest.mark.parametrize(
    ("function", "dtype", "below"),
    [
        (softmax_fused._exp_normal, np.float64, [-708.01, -745.0, -1e300, -np.inf]),
        (softmax_fused._exp_normal_f32, np.float32, [-87.34, -104.0, -1e30, -np.inf]),
    ],
)
def test_the_softmax_exps_are_0_below_their_cut_offs(function, dtype, below):
    """Where exp would be subnormal: 0, a probability that counts for nothing beside the
    row's largest, which is 1."""
    assert not _elementwise(function)(np.array(below, dtype)).any()
