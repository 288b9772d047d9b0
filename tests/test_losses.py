"""One parametrized suite over every registered loss, both impls, float32 and float64."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbench import LossbenchError, losses

NAMES = losses.names()
IMPLS = list(losses.IMPLS)
DTYPES = [np.float64, np.float32]
REDUCTIONS = list(losses.REDUCTIONS)
# agreement between impls, normwise: |a - b| <= TOL * max|a|
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def sample(loss, n, dtype, seed=0):
    """Seeded inputs in each loss's domain, spanning tiny to large residuals."""
    rng = np.random.default_rng(seed)
    if loss.labels:
        y_true = rng.uniform(0.0, 1.0, n)  # soft labels: the general case
        if loss.prediction == "probability":
            y_pred = rng.uniform(0.02, 0.98, n)
        else:
            y_pred = rng.normal(0.0, 4.0, n)
    else:
        y_true = rng.normal(0.0, 2.0, n)
        y_pred = y_true + rng.normal(0.0, 2.0, n) * rng.choice([1e-6, 0.1, 1.0, 30.0], n)
    return y_true.astype(dtype), y_pred.astype(dtype)


def assert_close(actual, expected, tol):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected))), np.finfo(np.float64).tiny)
    worst = float(np.max(np.abs(actual - expected)))
    assert worst <= tol * scale, f"max difference {worst:.3e} exceeds {tol:g} x {scale:.3e}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_agrees_with_numpy(name, dtype, reduction):
    loss = losses.get(name)
    y_true, y_pred = sample(loss, 5003, dtype)  # not a multiple of any vector width or block
    value, grad = loss.value_and_gradient(y_true, y_pred, reduction=reduction)
    fused_value, fused_grad = loss.value_and_gradient(
        y_true, y_pred, reduction=reduction, impl="fused"
    )
    assert_close(fused_value, value, TOL[dtype])
    assert_close(fused_grad, grad, TOL[dtype])
    assert fused_grad.dtype == grad.dtype == dtype


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_value_and_gradient_matches_value_plus_gradient(name, impl, dtype, reduction):
    loss = losses.get(name)
    y_true, y_pred = sample(loss, 1000, dtype, seed=1)
    value, grad = loss.value_and_gradient(y_true, y_pred, reduction=reduction, impl=impl)
    # the same arithmetic, but the sum may be split into vector lanes differently: a few ulps
    ulps = 8 * float(np.finfo(dtype).eps)
    assert_close(value, loss.value(y_true, y_pred, reduction=reduction, impl=impl), ulps)
    np.testing.assert_array_equal(
        grad, loss.gradient(y_true, y_pred, reduction=reduction, impl=impl)
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_matches_finite_differences(name, impl, reduction):
    loss = losses.get(name)
    y_true, y_pred = sample(loss, 40, np.float64, seed=2)
    if not loss.labels:  # keep every element away from the kinks of mae and huber
        y_pred = y_true + np.where(np.arange(40) % 2, 1.0, -1.0) * np.linspace(0.05, 4.0, 40)
    grad = loss.gradient(y_true, y_pred, reduction=reduction, impl=impl)
    numeric = np.empty_like(y_pred)
    for i in range(y_pred.size):
        h = 1e-6 * max(1.0, abs(y_pred[i]))
        up, down = y_pred.copy(), y_pred.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (
            loss.value(y_true, up, reduction=reduction)
            - loss.value(y_true, down, reduction=reduction)
        ) / (2 * h)
    assert_close(grad, numeric, 1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", IMPLS)
def test_float32_agrees_with_float64(name, impl):
    loss = losses.get(name)
    y_true, y_pred = sample(loss, 2000, np.float32, seed=3)
    value32, grad32 = loss.value_and_gradient(y_true, y_pred, impl=impl)
    value64, grad64 = loss.value_and_gradient(
        y_true.astype(np.float64), y_pred.astype(np.float64), impl=impl
    )
    assert math.isclose(value32, value64, rel_tol=1e-5)
    assert_close(grad32, grad64, 1e-5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", IMPLS)
def test_shape_is_kept_and_reductions_relate(name, impl):
    loss = losses.get(name)
    y_true, y_pred = sample(loss, 24, np.float64, seed=4)
    y_true, y_pred = y_true.reshape(2, 3, 4), y_pred.reshape(2, 3, 4)
    each = loss.value(y_true, y_pred, reduction="none", impl=impl)
    assert each.shape == (2, 3, 4)
    assert math.isclose(
        loss.value(y_true, y_pred, reduction="sum", impl=impl), each.sum(), rel_tol=1e-13
    )
    assert math.isclose(loss.value(y_true, y_pred, impl=impl), each.mean(), rel_tol=1e-13)
    grad_sum = loss.gradient(y_true, y_pred, reduction="sum", impl=impl)
    assert grad_sum.shape == (2, 3, 4)
    assert_close(loss.gradient(y_true, y_pred, impl=impl), grad_sum / 24, 1e-15)
    assert_close(loss.gradient(y_true, y_pred, reduction="none", impl=impl), grad_sum, 0)


# -- values computed by hand -------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_mse_follows_the_seed_convention(impl):
    mse = losses.get("mse")
    y_true, y_pred = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 1.0])
    assert mse.value(y_true, y_pred, impl=impl) == pytest.approx((1 + 0 + 9) / 3)
    np.testing.assert_allclose(mse.gradient(y_true, y_pred, impl=impl), [-2 / 3, 0.0, -6 / 3])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("delta", [0.5, 1.345, 3.0])
def test_huber_at_the_boundary_and_beyond(impl, delta):
    huber = losses.get("huber", delta=delta)
    y_pred = np.zeros(4)
    y_true = np.array([delta, -delta, 3 * delta, 0.25 * delta])
    expected = [
        0.5 * delta**2,
        0.5 * delta**2,
        delta * (3 * delta - 0.5 * delta),
        0.5 * (0.25 * delta) ** 2,
    ]
    np.testing.assert_allclose(
        huber.value(y_true, y_pred, reduction="none", impl=impl), expected, rtol=1e-15
    )
    np.testing.assert_allclose(
        huber.gradient(y_true, y_pred, reduction="none", impl=impl),
        [-delta, delta, -delta, -0.25 * delta],
    )


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_at_certain_predictions_is_clipped(impl, dtype):
    bce = losses.get("bce")
    eps = float(np.finfo(dtype).eps)
    y_true = np.array([1, 0, 1, 0], dtype=dtype)
    y_pred = np.array([0, 1, 1, 0], dtype=dtype)
    values = bce.value(y_true, y_pred, reduction="none", impl=impl)
    # wrong and certain: -log(eps); right and certain: -log(1 - eps) ~ eps
    np.testing.assert_allclose(
        values, [-math.log(eps), -math.log(eps), -math.log1p(-eps), -math.log1p(-eps)], rtol=1e-6
    )
    assert values.dtype == dtype
    # where p is clipped the loss is flat, so its derivative is 0
    np.testing.assert_array_equal(bce.gradient(y_true, y_pred, reduction="none", impl=impl), 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_bce_eps_parameter(impl):
    bce = losses.get("bce", eps=1e-3)
    assert bce.value(np.array([1.0]), np.array([0.0]), impl=impl) == pytest.approx(-math.log(1e-3))
    assert str(bce) == "bce(eps=0.001)"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_is_finite_for_huge_logits(impl, dtype):
    bce_logits = losses.get("bce_logits")
    big = [1e4, 1e30] if dtype == np.float32 else [1e4, 1e30, 1e300]
    z = np.array([*big, *(-b for b in big)], dtype=dtype)
    y = np.array([0.0] * len(big) + [1.0] * len(big), dtype=dtype)  # confidently wrong
    values, grads = bce_logits.value_and_gradient(y, z, reduction="none", impl=impl)
    np.testing.assert_allclose(values, np.abs(z), rtol=1e-6)
    np.testing.assert_allclose(grads, [1.0] * len(big) + [-1.0] * len(big))
    right = bce_logits.value(1.0 - y, z, reduction="none", impl=impl)  # confidently right
    assert np.all(right >= 0) and np.all(right < 1e-300 if dtype == np.float64 else right < 1e-30)


@pytest.mark.parametrize("impl", IMPLS)
def test_bce_logits_equals_bce_of_sigmoid(impl):
    z = np.linspace(-8, 8, 33)
    y = (np.arange(33) % 3) / 2
    p = 1 / (1 + np.exp(-z))
    assert losses.get("bce_logits").value(y, z, impl=impl) == pytest.approx(
        losses.get("bce").value(y, p, impl=impl), rel=1e-12
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_smooth_losses_near_zero_and_in_the_tails(impl):
    r = np.array([1e-8, 1e-3, 50.0, -300.0])
    zeros = np.zeros_like(r)
    log_cosh = losses.get("log_cosh").value(r, zeros, reduction="none", impl=impl)
    np.testing.assert_allclose(log_cosh[:2], 0.5 * r[:2] ** 2, rtol=1e-6)  # log cosh r ~ r²/2
    np.testing.assert_allclose(log_cosh[2:], np.abs(r[2:]) - math.log(2), rtol=1e-15)
    pseudo = losses.get("pseudo_huber", delta=2.0).value(r, zeros, reduction="none", impl=impl)
    np.testing.assert_allclose(pseudo[:2], 0.5 * r[:2] ** 2, rtol=1e-6)
    np.testing.assert_allclose(pseudo[2:], 4.0 * (np.sqrt(1 + (r[2:] / 2) ** 2) - 1), rtol=1e-14)


def test_float32_mse_over_ten_million_sums_exactly_enough():
    rng = np.random.default_rng(5)
    y_true = rng.normal(0, 1, 10_000_000).astype(np.float32)
    y_pred = np.zeros_like(y_true)
    exact = math.fsum(np.square(y_true.astype(np.float64))) / y_true.size
    value = losses.get("mse").value(y_true, y_pred, impl="fused")
    assert abs(value - exact) <= 1e-6 * exact


# -- properties --------------------------------------------------------------------------------
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30), st.sampled_from(IMPLS))
def test_regression_losses_are_nonnegative_and_zero_at_a_perfect_fit(pairs, impl):
    y_true = np.array([a for a, _ in pairs])
    y_pred = np.array([b for _, b in pairs])
    for name in NAMES:
        loss = losses.get(name)
        if loss.labels:
            continue
        assert np.all(loss.value(y_true, y_pred, reduction="none", impl=impl) >= 0)
        assert loss.value(y_true, y_true, impl=impl) == 0
        np.testing.assert_array_equal(loss.gradient(y_true, y_true, impl=impl), 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=30),
    st.sampled_from(IMPLS),
)
def test_binary_losses_are_nonnegative(pairs, impl):
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    assert np.all(losses.get("bce").value(y, p, reduction="none", impl=impl) >= 0)
    z = (p - 0.5) * 40
    assert np.all(losses.get("bce_logits").value(y, z, reduction="none", impl=impl) >= 0)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.01, 10),
    st.lists(st.floats(-1, 1), min_size=1, max_size=30),
    st.sampled_from(IMPLS),
)
def test_huber_is_half_squared_error_inside_delta(delta, fractions, impl):
    r = np.array(fractions) * delta
    values = losses.get("huber", delta=delta).value(
        r, np.zeros_like(r), reduction="none", impl=impl
    )
    np.testing.assert_allclose(values, 0.5 * r * r, rtol=1e-14)


# -- registry and labels -----------------------------------------------------------------------
def test_registry_and_labels_round_trip():
    assert NAMES == ["bce", "bce_logits", "huber", "log_cosh", "mae", "mse", "pseudo_huber"]
    huber = losses.get("huber", delta=1.345)
    assert str(huber) == "huber(delta=1.345)"
    assert losses.get(str(huber)) == huber
    assert str(losses.get("mse")) == "mse"
    assert str(losses.get("huber")) == "huber(delta=1.0)"
    assert huber.params == {"delta": 1.345}


def test_user_loss_by_module_path(tmp_path, monkeypatch):
    (tmp_path / "my_losses.py").write_text(
        "import numpy as np\n"
        "def quartic(y_true, y_pred, scale=1.0):\n"
        "    '''Fourth power of the residual.'''\n"
        "    return scale * (y_true - y_pred) ** 4\n"
        "def cubic_abs(y_true, y_pred):\n"
        "    return np.abs(y_true - y_pred) ** 3\n"
        "cubic_abs.gradient = lambda y, p: -3 * (y - p) * np.abs(y - p)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    quartic = losses.get("my_losses:quartic", scale=2.0)
    y_true, y_pred = np.array([1.0, 2.0, 0.5]), np.array([0.0, 0.0, 0.0])
    assert quartic.value(y_true, y_pred, reduction="sum") == pytest.approx(2 * (1 + 16 + 0.0625))
    np.testing.assert_allclose(
        quartic.gradient(y_true, y_pred, reduction="none"), -8 * y_true**3, rtol=1e-7
    )
    cubic = losses.get("my_losses:cubic_abs")
    np.testing.assert_array_equal(cubic.gradient(y_true, y_pred, reduction="none"), -3 * y_true**2)
    with pytest.raises(LossbenchError, match="no 'fused' implementation"):
        cubic.value(y_true, y_pred, impl="fused")
    with pytest.raises(LossbenchError, match="cannot import 'no_such_module'"):
        losses.get("no_such_module:f")
    with pytest.raises(LossbenchError, match="has no function 'nope'"):
        losses.get("my_losses:nope")


# -- bad input: every case of the contract, with a message naming argument and value ----------
BAD_INPUTS = [
    ("mse", [1.0, 2.0], [1.0, 2.0, 3.0], {}, r"same shape; got \(2,\) and \(3,\)"),
    ("mse", [], [], {}, r"must not be empty; got shape \(0,\)"),
    ("mse", [1.0, np.nan], [1.0, 2.0], {}, r"y_true\[1\] is nan; expected finite"),
    ("mse", [1.0, 2.0], [np.inf, 2.0], {}, r"y_pred\[0\] is inf; expected finite"),
    ("huber", [1.0, 2.0], [1.0, -np.inf], {}, r"y_pred\[1\] is -inf"),
    (
        "mae",
        [1.0, 2.0],
        np.array([1, 2]),
        {},
        r"y_pred must have dtype float32 or float64; got int64",
    ),
    ("mse", np.array(["a", "b"]), [1.0, 2.0], {}, r"y_true must hold real numbers; got dtype <U1"),
    ("bce", [0.0, 1.5], [0.5, 0.5], {}, r"y_true\[1\] is 1.5; expected labels in \[0, 1\]"),
    ("bce", [-0.5, 1.0], [0.5, 0.5], {}, r"y_true\[0\] is -0.5; expected labels in \[0, 1\]"),
    ("bce_logits", [0.0, 2.0], [0.5, 0.5], {}, r"y_true\[1\] is 2.0; expected labels"),
    ("bce", [0.0, 1.0], [np.nan, 0.5], {}, r"y_pred\[0\] is nan"),
    (
        "mse",
        [1.0],
        [1.0],
        {"reduction": "avg"},
        r"reduction must be one of 'mean', 'sum', 'none'; got 'avg'",
    ),
    ("mse", [1.0], [1.0], {"impl": "torch"}, r"impl must be one of 'numpy', 'fused'; got 'torch'"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("name", "y_true", "y_pred", "kwargs", "message"), BAD_INPUTS)
def test_bad_input_is_refused_with_a_clear_message(impl, name, y_true, y_pred, kwargs, message):
    loss = losses.get(name)
    kwargs = {"impl": impl, **kwargs}
    for method in (loss.value, loss.gradient, loss.value_and_gradient):
        with pytest.raises(LossbenchError, match=message):
            method(y_true, y_pred, **kwargs)


def test_bad_input_in_a_2d_array_is_located_by_its_index():
    y_pred = np.zeros((3, 4))
    y_pred[2, 1] = np.nan
    with pytest.raises(LossbenchError, match=r"y_pred\[2, 1\] is nan"):
        losses.get("mse").value(np.zeros((3, 4)), y_pred, impl="fused")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("huber", {"delta": 0}, r"huber: delta must be a number in \[1e-08, 1e\+12\] .*; got 0"),
        ("huber", {"delta": 1e-320}, r"delta must be a number in \[1e-08, .*; got 1e-320"),
        ("huber", {"delta": -1.0}, r"delta must be a number in \[1e-08, .*; got -1.0"),
        ("pseudo_huber", {"delta": float("nan")}, r"delta must be a number in .*, finite; got nan"),
        ("huber", {"delta": "big"}, r"delta must be a number in .*; got 'big'"),
        ("huber", {"delt": 1.0}, r"huber has no parameter 'delt'; expected delta"),
        ("mse", {"delta": 1.0}, r"mse has no parameter 'delta'; expected no parameters"),
        ("bce", {"eps": 0.7}, r"eps must be a number in \(0, 0.5\); got 0.7"),
        ("hubr", {}, r"unknown loss 'hubr' \(did you mean 'huber'\?\); expected one of bce, "),
        ("huber(delta=abc)", {}, r"delta must be a number, got 'abc'"),
    ],
)
def test_bad_loss_names_and_parameters(name, params, message):
    with pytest.raises(LossbenchError, match=message):
        losses.get(name, **params)


def test_lossbench_error_is_a_value_error():
    assert issubclass(LossbenchError, ValueError)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_summed_value_does_not_depend_on_where_the_arrays_lie(name, dtype):
    # The gradient array placed just after an input in memory used to send the kernel down
    # LLVM's scalar fallback, a different summation order: the same inputs gave a sum one
    # ulp apart in two processes. Every placement must give one sum, bit for bit.
    loss = losses.get(name)
    kernels, a, b = loss._bind_fused(np.dtype(dtype))
    for n in (5, 14, 37):
        y0, p0 = sample(loss, n, dtype, seed=n)
        sums = set()
        for gap in range(48):
            for first in (0, 1):
                block = np.empty(3 * n + gap, dtype)
                inputs = [block[:n], np.empty(n, dtype)]
                y, p = inputs if first == 0 else inputs[::-1]
                y[:], p[:] = y0, p0
                out = block[n + gap : 2 * n + gap]
                sums.add(kernels.value_sum_and_gradient(y, p, out, 1.0, a, b))
        assert len(sums) == 1, f"n={n}: {len(sums)} different sums"
