"""Softmax cross-entropy on (n, K) logits (issue 34, first step): against scikit-learn's
log_loss, its own derivatives by differences, the fused kernel against the numpy reference,
stable at logits of any finite size, and every bad input one clear error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax
from sklearn.metrics import log_loss

from lossbench import LossbenchError
from lossbench.losses.softmax import CrossEntropy, one_hot

CE = CrossEntropy()

_PROBLEMS = st.tuples(
    st.integers(1, 30), st.integers(2, 7), st.integers(0, 2**32 - 1), st.floats(0.1, 30.0)
)


def _problem(rows, classes, seed, spread):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, classes)) * spread
    return rng.integers(0, classes, rows), z


@settings(max_examples=40, deadline=None)
@given(_PROBLEMS)
def test_the_value_is_scikit_learns_log_loss_of_the_softmax(problem):
    labels, z = _problem(*problem)
    # scikit-learn clips probabilities at the float64 epsilon: compared where none is clipped
    kept = softmax(z, axis=1)[np.arange(len(z)), labels] > 1e-12
    if kept.any():
        labels, z = labels[kept], z[kept]
        expected = log_loss(labels, softmax(z, axis=1), labels=range(z.shape[1]))
        for impl in ("numpy", "fused"):
            ours = CE.value(labels, z, impl=impl)
            assert ours == pytest.approx(expected, rel=1e-10, abs=1e-12)
    rows = CE.value(labels, z, reduction="none")
    np.testing.assert_allclose(rows, logsumexp(z, axis=1) - z[np.arange(len(z)), labels],
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    assert CE.value(labels, z, reduction="sum") == pytest.approx(rows.sum(), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(_PROBLEMS)
def test_gradient_and_hessian_are_the_derivatives_of_the_value(problem):
    labels, z = _problem(*problem)
    gradient = CE.gradient(labels, z, reduction="sum")
    hessian = CE.hessian(labels, z, reduction="sum")
    h = 1e-5
    for i, j in [(0, 0), (len(z) - 1, z.shape[1] - 1), (len(z) // 2, 1)]:
        up, down = z.copy(), z.copy()
        up[i, j] += h
        down[i, j] -= h
        slope = CE.value(labels, up, reduction="sum") - CE.value(labels, down, reduction="sum")
        assert gradient[i, j] == pytest.approx(slope / (2 * h), abs=1e-6)
        curvature = CE.gradient(labels, up, reduction="sum")[i, j] - CE.gradient(
            labels, down, reduction="sum")[i, j]  # fmt: skip
        assert hessian[i, j] == pytest.approx(curvature / (2 * h), abs=1e-6)
    # "mean" carries the 1/n, as the elementwise losses' do
    np.testing.assert_allclose(CE.gradient(labels, z), gradient / len(z), rtol=1e-12)
    np.testing.assert_allclose(CE.hessian(labels, z), hessian / len(z), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(_PROBLEMS, st.sampled_from([np.float64, np.float32]))
def test_the_fused_kernel_agrees_with_the_reference(problem, dtype):
    labels, z = _problem(*problem)
    z = z.astype(dtype)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for reduction in ("mean", "sum", "none"):
        ours, ours_gradient = CE.value_and_gradient(labels, z, reduction=reduction, impl="fused")
        theirs, gradient = CE.value_and_gradient(labels, z, reduction=reduction)
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(ours_gradient, gradient, rtol=tolerance, atol=tolerance)
        assert ours_gradient.dtype == dtype


def test_class_probabilities_as_targets_equal_their_one_hot_rows():
    labels, z = _problem(40, 4, 1, 3.0)
    np.testing.assert_array_equal(CE.gradient(labels, z), CE.gradient(one_hot(labels, 4), z))
    soft = np.full((40, 4), 0.25)
    expected = np.mean(logsumexp(z, axis=1) - z.mean(axis=1))
    assert CE.value(soft, z) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("impl", ["numpy", "fused"])
def test_logits_of_any_finite_size_give_a_finite_loss(impl):
    z = np.array([[1e300, 0.0, -1e300], [0.0, 0.0, 0.0], [-1e300, -1e300, 5.0]])
    rows, gradient = CE.value_and_gradient([1, 2, 2], z, reduction="none", impl=impl)
    np.testing.assert_allclose(rows, [1e300, np.log(3.0), 0.0], rtol=1e-15)
    np.testing.assert_allclose(gradient, [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3], [0, 0, 0]],
                               atol=1e-15)  # fmt: skip


@pytest.mark.parametrize(
    ("y_true", "z", "said"),
    [
        ([0, 1], np.zeros((3, 2)), "2 labels for 3 rows"),
        ([0, 2], np.zeros((2, 2)), r"lie in \[0, 1\]"),
        ([0.5, 1], np.zeros((2, 2)), "integers"),
        ([0], np.zeros((1, 1)), "K ≥ 2"),
        ([0, 1], np.zeros((2, 2), dtype=np.int64), "float32 or float64"),
        ([0, 1], np.array([[0.0, np.inf], [0, 0]]), "finite"),
        ([0, 1], np.array([[0.0, np.nan], [0, 0]]), "finite"),
        ([0, 1], np.array([[0.0, -np.inf], [0, 0]]), "finite"),
        (np.zeros((2, 3)), np.zeros((2, 2)), "probabilities of z's shape"),
        (np.full((2, 2), -0.5), np.zeros((2, 2)), "≥ 0"),
        ([1, 0], np.array([[1e308, -1e308], [0, 0]]), "overflows"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_clear_error(y_true, z, said):
    for impl in ("numpy", "fused"):
        with pytest.raises(LossbenchError, match=said):
            CE.value(y_true, z, impl=impl)


def test_bad_choices_are_refused():
    with pytest.raises(LossbenchError, match="reduction"):
        CE.value([0], np.zeros((1, 2)), reduction="max")
    with pytest.raises(LossbenchError, match="impl"):
        CE.value([0], np.zeros((1, 2)), impl="torch")


@pytest.mark.parametrize(
    ("classes", "unrolled"), [(3, True), (16, True), (3, False), (17, False)]
)  # a kernel per K up to 16 (arrays from UNROLL_FROM elements), one reading K from the shape
@pytest.mark.parametrize("rows", [1, 255, 256, 257, 1000])  # blocks of 256 rows
def test_every_fused_kernel_agrees_with_the_reference_on_one_core_and_all(
    classes, unrolled, rows, monkeypatch
):
    from lossbench.losses import softmax_fused

    monkeypatch.setattr(softmax_fused, "UNROLL_FROM", 0 if unrolled else 10**12)
    labels, z = _problem(rows, classes, classes * rows, 5.0)
    reference = [CE.value(labels, z, reduction="sum"), CE.gradient(labels, z, reduction="sum"),
                 CE.hessian(labels, z, reduction="sum")]  # fmt: skip
    outputs = [
        softmax_fused.kernel(z, labels, 1.0, gradient=True, hessian=True, values=True,
                             all_cores=all_cores)
        for all_cores in (False, True)
    ]  # fmt: skip
    for total, finite, gradient, hessian, values in outputs:
        assert finite and total == pytest.approx(reference[0], rel=1e-12)
        np.testing.assert_allclose(gradient, reference[1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(hessian, reference[2], rtol=1e-12, atol=1e-15)
        assert values.sum() == pytest.approx(total, rel=1e-12)
    serial, parallel = outputs
    assert serial[0] == parallel[0]  # block sums combined exactly: the same bits
    for mine, theirs in zip(serial[2:], parallel[2:], strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fused_kernels_agree_with_torch_and_scikit_learns_multinomial_loss(dtype):
    torch = pytest.importorskip("torch")  # a test dependency: installed in CI
    from sklearn._loss.loss import HalfMultinomialLoss

    labels, z = _problem(3000, 7, 11, 4.0)
    z = z.astype(dtype)
    tolerance = 1e-10 if dtype == np.float64 else 1e-5
    value, gradient = CE.value_and_gradient(labels, z, impl="fused")
    logits = torch.from_numpy(z.copy()).requires_grad_(True)
    theirs = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
    theirs.backward()
    assert value == pytest.approx(theirs.item(), rel=tolerance)
    np.testing.assert_allclose(gradient, logits.grad.numpy(), rtol=tolerance, atol=tolerance / 3000)
    peer = HalfMultinomialLoss(n_classes=7)
    raw = z.astype(np.float64)
    peer_gradient, peer_hessian = peer.gradient_hessian(labels.astype(np.float64), raw)
    gradient, hessian = CE.gradient_and_hessian(labels, z, reduction="sum", impl="fused")
    np.testing.assert_allclose(gradient, peer_gradient, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(hessian, peer_hessian, rtol=tolerance, atol=tolerance)
    rows = peer.loss(labels.astype(np.float64), raw)
    value = CE.value(labels, z, reduction="sum", impl="fused")
    assert value == pytest.approx(rows.sum(), rel=tolerance)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", ["value", "value_and_gradient"])
def test_scikit_learns_timing_peer_runs_on_either_dtype(dtype, op):
    pytest.importorskip("sklearn")
    from lossbench.losses import impls

    labels, z = _problem(500, 5, 3, 2.0)
    call = impls.get("sklearn").call(CE, op, labels, z.astype(dtype))
    out = call()
    value = out if op == "value" else out[0].mean()
    assert float(value) == pytest.approx(CE.value(labels, z), rel=1e-5)
