"""Implementations of the losses: lossbench's own and the peers it is timed against.

One registry, one interface. An `Implementation` says which losses and ops it covers
(`supports`), whether it can run here and why not (`unavailable`), and how to call it on
prepared inputs (`call`: a zero-argument function, inputs converted once, ready to time).
lossbench's own implementations (``own = True``) are also what `Loss.value(..., impl=name)`
runs (`compute`). The loss API, timing and ``lossbench list impls`` all read `IMPLEMENTATIONS`.

This module imports only numpy: a timing worker loads a peer's package only when it times it.
Adding an implementation (a GPU backend, say) is a subclass here plus `register`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from lossbench.losses.spec import AnyLoss

__all__ = [
    "FIRST_ORDER",
    "IMPLEMENTATIONS",
    "OPS",
    "Implementation",
    "available",
    "get",
    "own",
    "register",
]

OPS = ("value", "gradient", "value_and_gradient", "gradient_and_hessian")
FIRST_ORDER = frozenset(OPS[:3])  # what the peers compute: no second derivatives


class Implementation:
    """A way to compute losses. Subclasses set the class attributes and override what differs."""

    name: str
    summary: str
    requires: ClassVar[str | None] = None  # the module that must import for it to run
    install: ClassVar[str] = ""  # how to get that module
    own: ClassVar[bool] = False  # lossbench's own: runs through Loss.value(..., impl=name)
    user: ClassVar[bool] = False  # a user's kernel (`user_impls`): gated like lossbench's own
    losses: ClassVar[frozenset[str] | None] = None  # None: every loss that lists it in .impls
    ops: frozenset[str] = frozenset(OPS)
    # arrays of n elements a call holds at its peak, with its inputs (numpy's temporaries)
    arrays: ClassVar[int] = 8
    threaded: ClassVar[bool] = False  # has an all-core variant (`call(..., all_cores=True)`)

    def unavailable(self) -> str | None:
        """None when it can run here; otherwise why not, with the fix."""
        if self.requires is None or importlib.util.find_spec(self.requires) is not None:
            return None
        return f"not installed (pip install {self.install})"

    def supports(self, loss: AnyLoss, op: str) -> bool:
        """Whether it implements `op` of `loss`."""
        if op not in self.ops:
            return False
        if self.losses is None:
            return self.name in loss.impls
        return loss.name in self.losses

    def call(
        self,
        loss: AnyLoss,
        op: str,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        all_cores: bool = False,
    ) -> Callable:
        """A zero-argument function computing `op` of `loss` (mean reduction) on the inputs
        (on every core with `all_cores`, for a `threaded` implementation)."""
        method, impl = getattr(loss, op), self.name
        return lambda: method(y_true, y_pred, impl=impl)

    def compute(self, loss: AnyLoss, y_true, y_pred, shape, reduction, want_value, want_grad):
        """(value, gradient) for the loss API; only lossbench's own implementations have it."""
        raise NotImplementedError(f"{self.name} is a timing peer, not a loss implementation")


IMPLEMENTATIONS: dict[str, Implementation] = {}


def register(cls: type[Implementation]) -> type[Implementation]:
    """Class decorator: add an implementation to the registry under its name."""
    IMPLEMENTATIONS[cls.name] = cls()
    return cls


def get(name: str) -> Implementation:
    return IMPLEMENTATIONS[name]


def own() -> tuple[str, ...]:
    """The names usable as ``impl=`` in the loss API."""
    return tuple(name for name, impl in IMPLEMENTATIONS.items() if impl.own)


def available(name: str) -> bool:
    """Whether implementation `name` exists and can run here."""
    impl = IMPLEMENTATIONS.get(name)
    return impl is not None and impl.unavailable() is None


@register
class NumpyImpl(Implementation):
    name = "numpy"
    summary = "vectorized numpy reference that mirrors each formula"
    own = True

    def compute(self, loss, y_true, y_pred, shape, reduction, want_value, want_grad):
        return loss._compute_numpy(y_true, y_pred, shape, reduction, want_value, want_grad)


@register
class FusedImpl(Implementation):
    name = "fused"
    summary = "numba kernels: one pass over memory, value and gradient together"
    requires, install = "numba", "numba"
    own = True

    threaded = True

    def compute(self, loss, y_true, y_pred, shape, reduction, want_value, want_grad):
        return loss._compute_fused(y_true, y_pred, shape, reduction, want_value, want_grad)

    def call(self, loss, op, y_true, y_pred, all_cores=False):
        if not all_cores:
            return super().call(loss, op, y_true, y_pred)
        if loss.over == "rows":  # cross_entropy: its kernels take all_cores themselves
            method = getattr(loss, op)
            return lambda: method(y_true, y_pred, impl="fused", all_cores=True)
        from lossbench.losses._checks import as_loss_inputs

        want_value, want_grad = op not in ("gradient", "gradient_and_hessian"), op != "value"

        def run():  # the loss API's path, with the parallel kernels
            yt, yp, shape = as_loss_inputs(y_true, y_pred)
            if op == "gradient_and_hessian":
                return loss._fused_hessian(yt, yp, shape, "mean", True)
            value, grad = loss._compute_fused(yt, yp, shape, "mean", want_value, want_grad, True)
            return (value, grad) if want_value and want_grad else value if want_value else grad

        return run


@register
class SeedImpl(Implementation):
    name = "seed"
    summary = "the literal formula np.sum((y - p)**2) * (1 / m): mse only"
    losses, ops = frozenset({"mse"}), FIRST_ORDER

    def call(self, loss, op, y_true, y_pred, all_cores=False):
        y, p, m = y_true, y_pred, y_true.size  # as a user would first write them

        def value():
            return np.sum((y - p) ** 2) * (1 / m)

        def gradient():
            return -2 * (y - p) * (1 / m)

        return {
            "value": value,
            "gradient": gradient,
            "value_and_gradient": lambda: (value(), gradient()),
        }[op]


@register
class ScipyImpl(Implementation):
    name = "scipy"
    summary = "scipy.special.huber / pseudo_huber, averaged: value only"
    requires, install = "scipy", "scipy"
    losses, ops = frozenset({"huber", "pseudo_huber"}), frozenset({"value"})

    def call(self, loss, op, y_true, y_pred, all_cores=False):
        from scipy import special

        function = special.huber if loss.name == "huber" else special.pseudo_huber
        delta, residual = loss.params["delta"], y_true - y_pred
        return lambda: np.mean(function(delta, residual))


@register
class SklearnImpl(Implementation):
    name = "sklearn"
    summary = (
        "sklearn.metrics mean_squared_error, mean_absolute_error, log_loss; "
        "HalfMultinomialLoss for cross_entropy"
    )
    requires, install = "sklearn", "'lossbench[peers]'"
    losses = frozenset({"mse", "mae", "bce", "cross_entropy"})
    ops = frozenset({"value", "value_and_gradient"})
    arrays = 16  # log_loss's two-column copies: 0.98 GB on top of the inputs at n = 1e7

    def supports(self, loss, op):
        # metrics give values; cross_entropy's peer is the multinomial loss of its models,
        # which gives gradients too
        return super().supports(loss, op) and (op == "value" or loss.name == "cross_entropy")

    def call(self, loss, op, y_true, y_pred, all_cores=False):
        from sklearn import metrics

        if loss.name == "cross_entropy":  # the Cython kernels of its multinomial models
            from sklearn._loss.loss import HalfMultinomialLoss

            # its kernels take labels of the logits' own dtype (float32 logits, float32 labels)
            peer = HalfMultinomialLoss(n_classes=y_pred.shape[1])
            labels = y_true.astype(y_pred.dtype)
            if op == "value":
                return lambda: peer.loss(labels, y_pred, n_threads=1).mean()
            return lambda: peer.loss_gradient(labels, y_pred, n_threads=1)

        function = {
            "mse": metrics.mean_squared_error,
            "mae": metrics.mean_absolute_error,
            "bce": metrics.log_loss,
        }[loss.name]
        return lambda: function(y_true, y_pred)


@register
class TorchImpl(Implementation):
    name = "torch"
    summary = "torch.nn.functional on the CPU, one thread, gradients by autograd"
    requires, install = "torch", "torch"
    losses = frozenset({"mse", "mae", "huber", "bce", "bce_logits", "cross_entropy"})
    ops = FIRST_ORDER
    threaded = True  # all cores: torch's default number of threads
    _default_threads: ClassVar[int | None] = None

    def call(self, loss, op, y_true, y_pred, all_cores=False):
        import torch
        from torch.nn import functional

        if TorchImpl._default_threads is None:  # before this process first sets it
            TorchImpl._default_threads = torch.get_num_threads()
        torch.set_num_threads(TorchImpl._default_threads if all_cores else 1)
        y, p = torch.from_numpy(y_true), torch.from_numpy(y_pred)
        function = {
            "mse": functional.mse_loss,
            "mae": functional.l1_loss,
            "huber": lambda a, b: functional.huber_loss(a, b, delta=loss.params["delta"]),
            "bce": functional.binary_cross_entropy,
            "bce_logits": functional.binary_cross_entropy_with_logits,
            "cross_entropy": functional.cross_entropy,  # (logits, class labels)
        }[loss.name]
        if op == "value":
            return lambda: function(p, y)

        def with_gradient():
            q = p.detach().requires_grad_(True)
            value = function(q, y)
            value.backward()
            return value, q.grad

        return with_gradient
