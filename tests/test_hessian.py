"""The loss API's second derivative (the per-element Hessian diagonal a booster asks for):
each built-in's closed form agrees with scipy's adaptive finite differences of its own
gradient, on any inputs away from a kink (hypothesis); the fused one-pass kernel agrees with
that numpy reference for every loss, dtype and reduction, on one core and on all; reductions
and user losses behave."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.differentiate import derivative

from lossbench import losses
from lossbench.errors import LossbenchError

REGRESSION = ["mse", "mae", "huber(delta=1.345)", "pseudo_huber(delta=0.7)", "log_cosh"]
VALUES = st.floats(-20, 20, allow_nan=False)


def _numeric(loss, y_true, y_pred):
    """d/dp of the summed gradient, element by element (scipy.differentiate)."""

    def gradient(p, truth):  # scipy passes the elements still unconverged, truth alongside
        return loss.gradient(np.broadcast_to(truth, p.shape), p, reduction="sum")

    return derivative(gradient, y_pred, args=(y_true,), initial_step=1e-3, order=4).df


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(REGRESSION),
    pairs=st.lists(st.tuples(VALUES, VALUES), min_size=1, max_size=8),
)
def test_regression_hessians_equal_the_derivative_of_the_gradient(name, pairs):
    loss = losses.get(name)
    y_true, y_pred = (np.array(column) for column in zip(*pairs, strict=True))
    r = y_true - y_pred
    kinks = {"mae": [0.0], "huber(delta=1.345)": [1.345, -1.345]}.get(name, [])
    assume(all(np.all(np.abs(r - kink) > 1e-2) for kink in kinks))  # no second derivative there
    np.testing.assert_allclose(
        loss.hessian(y_true, y_pred, reduction="sum"), _numeric(loss, y_true, y_pred),
        rtol=1e-5, atol=1e-7,
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=8),
    data=st.data(),
)
def test_classification_hessians_equal_the_derivative_of_the_gradient(labels, data):
    y_true = np.array(labels)
    logits = np.array(data.draw(st.lists(VALUES, min_size=len(labels), max_size=len(labels))))
    loss = losses.get("bce_logits")
    np.testing.assert_allclose(
        loss.hessian(y_true, logits, reduction="sum"), _numeric(loss, y_true, logits),
        rtol=1e-5, atol=1e-9,
    )  # fmt: skip
    p = np.clip(1.0 / (1.0 + np.exp(-logits / 4)), 0.02, 0.98)  # away from the clip
    bce = losses.get("bce")
    np.testing.assert_allclose(
        bce.hessian(y_true, p, reduction="sum"), _numeric(bce, y_true, p), rtol=1e-5
    )


def test_known_values_reductions_dtype_and_the_kinks():
    y_true, y_pred = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.5, 2.0, 4.0, 3.0])
    assert losses.get("mse").hessian(y_true, y_pred).tolist() == [0.5] * 4  # 2 / m
    huber = losses.get("huber", delta=1.0)
    assert huber.hessian(y_true, y_pred, reduction="none").tolist() == [1.0, 1.0, 0.0, 1.0]
    assert losses.get("mae").hessian(y_true, y_pred, reduction="sum").tolist() == [0.0] * 4
    assert losses.get("log_cosh").hessian([0.0], [800.0], reduction="sum")[0] == 0.0  # no inf
    assert losses.get("mse").hessian(y_true, y_pred.astype(np.float32)).dtype == np.float32
    z = np.array([-40.0, 0.0, 40.0])  # bce_logits: sigmoid(z)(1 − sigmoid(z)), stably
    np.testing.assert_allclose(
        losses.get("bce_logits").hessian(np.zeros(3), z, reduction="sum"),
        [np.exp(-40.0), 0.25, np.exp(-40.0)], rtol=1e-12,
    )  # fmt: skip


def test_bad_input_is_located_as_for_the_other_ops():
    with pytest.raises(LossbenchError, match=r"y_pred\[1\] is nan"):
        losses.get("mse").hessian([0.0, 1.0], [0.0, np.nan])


def test_a_user_loss_gives_its_own_hessian_or_differences_of_its_gradient(tmp_path):
    (tmp_path / "quartic.py").write_text(
        "def quartic(y_true, y_pred):\n    return (y_true - y_pred) ** 4\n\n\n"
        "def _gradient(y_true, y_pred):\n    return -4 * (y_true - y_pred) ** 3\n\n\n"
        "quartic.gradient = _gradient\n\n\n"
        "def with_hessian(y_true, y_pred):\n    return (y_true - y_pred) ** 4\n\n\n"
        "with_hessian.gradient = _gradient\n"
        "with_hessian.hessian = lambda y_true, y_pred: 12 * (y_true - y_pred) ** 2\n"
    )
    from lossbench.losses import user

    y_true, y_pred = np.array([0.0, 1.0, -2.0]), np.array([0.5, -1.0, 1.0])
    exact = 12 * (y_true - y_pred) ** 2
    with user.searched([tmp_path]):
        given_one = losses.get("quartic:with_hessian")
        differenced = losses.get("quartic:quartic")
    assert given_one.hessian(y_true, y_pred, reduction="sum").tolist() == exact.tolist()
    np.testing.assert_allclose(differenced.hessian(y_true, y_pred, reduction="sum"), exact,
                               rtol=1e-6)  # fmt: skip


ALL = [*REGRESSION, "bce", "bce_logits"]
EPS = {np.float64: 1e-12, np.float32: 2e-6}


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(ALL),
    dtype=st.sampled_from([np.float64, np.float32]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    data=st.data(),
)
def test_the_fused_kernel_agrees_with_the_numpy_reference(name, dtype, reduction, data):
    loss = losses.get(name)
    n = data.draw(st.integers(1, 3000), label="n")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    if loss.labels:
        y_true = (rng.random(n) < 0.5).astype(dtype)
        y_pred = rng.uniform(-8, 8, n) if name == "bce_logits" else rng.uniform(1e-4, 1, n)
    else:
        y_true = rng.standard_normal(n) * 3
        y_pred = y_true + rng.standard_t(2, n)
    y_true, y_pred = y_true.astype(dtype), y_pred.astype(dtype)
    mine = loss.gradient_and_hessian(y_true, y_pred, reduction=reduction, impl="fused")
    reference = loss.gradient_and_hessian(y_true, y_pred, reduction=reduction)
    scale = 1.0 / n if reduction == "mean" else 1.0
    for got, want in zip(mine, reference, strict=True):
        assert got.dtype == dtype and got.shape == want.shape
        # relative to the size of a derivative here (a gradient's cancellation near 0 is
        # the same in both, but rounded apart)
        np.testing.assert_allclose(got, want, rtol=EPS[dtype], atol=EPS[dtype] * 4 * scale)


def test_the_all_core_kernel_is_the_one_core_kernel_block_by_block():
    from lossbench.losses import impls

    rng = np.random.default_rng(1)
    y_true, y_pred = rng.standard_normal(50_001), rng.standard_normal(50_001)
    loss = losses.get("huber", delta=1.0)
    both = impls.get("fused").call(loss, "gradient_and_hessian", y_true, y_pred, all_cores=True)()
    one = loss.gradient_and_hessian(y_true, y_pred, impl="fused")
    for every, single in zip(both, one, strict=True):
        np.testing.assert_array_equal(every, single)


def test_the_fused_kernel_locates_bad_input_and_a_user_loss_has_only_numpy(tmp_path):
    with pytest.raises(LossbenchError, match=r"y_pred\[1\] is nan"):
        losses.get("mse").gradient_and_hessian([0.0, 1.0], [0.0, np.nan], impl="fused")
    with pytest.raises(LossbenchError, match=r"y_true\[0\] is 2.0; expected labels in \[0, 1\]"):
        losses.get("bce").gradient_and_hessian([2.0], [0.5], impl="fused")
    with pytest.raises(LossbenchError, match=r"impl must be one of .*; got 'cuda'"):
        losses.get("mse").gradient_and_hessian([0.0], [0.5], impl="cuda")
    (tmp_path / "plain_quartic.py").write_text(
        "def quartic(y_true, y_pred):\n    return (y_true - y_pred) ** 4\n"
    )
    from lossbench.losses import user

    with user.searched([tmp_path]):
        mine = losses.get("plain_quartic:quartic")
    with pytest.raises(LossbenchError, match="has no 'fused' implementation"):
        mine.gradient_and_hessian([0.0], [0.5], impl="fused")
