"""The all-core fused kernels (timing.threads: all) give the serial kernels' results."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossbench import losses
from lossbench.errors import LossbenchError
from lossbench.losses import impls
from lossbench.timing.bench import inputs

# mse in the fast lane; in the slow one two more kinds of element, piecewise in float32 and
# transcendental in float64: each parallel kernel takes seconds to compile (all seven losses
# in both dtypes were checked alike once, by hand)
FAST = [("mse", "float64")]
SLOW = [("huber(delta=1.345)", "float32"), ("bce_logits", "float64")]
BLOCK = 2048  # the kernels' block: sizes around its multiples split the work unevenly
SIZES = st.one_of(st.integers(1, 50), st.integers(BLOCK - 3, 3 * BLOCK + 3))


def _both(loss, op, y_true, y_pred):
    fused = impls.get("fused")
    serial = fused.call(loss, op, y_true, y_pred)()
    every = fused.call(loss, op, y_true, y_pred, all_cores=True)()
    return serial, every


def _check_equal(name, dtype, n, seed):
    loss = losses.get(name)
    y_true, y_pred = inputs(loss, n, dtype, seed)
    value, every = _both(loss, "value", y_true, y_pred)
    assert every == pytest.approx(value, rel=1e-12, abs=1e-300)
    (value, grad), (every, every_grad) = _both(loss, "value_and_gradient", y_true, y_pred)
    assert every == pytest.approx(value, rel=1e-12, abs=1e-300)
    assert np.array_equal(every_grad, grad)  # elementwise: the same operations
    grad, every_grad = _both(loss, "gradient", y_true, y_pred)
    assert np.array_equal(every_grad, grad)


@settings(max_examples=30, deadline=None)
@given(case=st.sampled_from(FAST), n=SIZES, seed=st.integers(0, 2**32 - 1))
def test_parallel_sums_and_gradients_equal_the_serial_kernels(case, n, seed):
    _check_equal(*case, n, seed)


@pytest.mark.slow  # compiles ten more parallel kernels
@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(SLOW), n=SIZES, seed=st.integers(0, 2**32 - 1))
def test_parallel_kernels_of_other_losses_and_float32_equal_the_serial_ones(case, n, seed):
    _check_equal(*case, n, seed)


@pytest.mark.slow
def test_parallel_kernels_agree_with_numpy_on_ten_million_elements():
    loss = losses.get("huber(delta=1.345)")
    y_true, y_pred = inputs(loss, 10_000_003, "float64")
    every = impls.get("fused").call(loss, "value", y_true, y_pred, all_cores=True)()
    assert every == pytest.approx(loss.value(y_true, y_pred), rel=1e-12)


def test_bad_input_is_located_on_every_core_as_on_one():
    loss = losses.get("mse")
    y_true, y_pred = inputs(loss, 3 * BLOCK, "float64")
    y_pred[BLOCK + 5] = np.nan
    run = impls.get("fused").call(loss, "value_and_gradient", y_true, y_pred, all_cores=True)
    with pytest.raises(LossbenchError, match=f"y_pred\\[{BLOCK + 5}\\]"):
        run()
