"""The models a fit experiment fits each loss with, as a config names them: ``linear``,
``{kind: gbm, ...}`` (LightGBM, `lossbench.experiments.gbm`) and ``{kind: mlp, ...}``
(PyTorch, `lossbench.experiments.mlp`); a list of settings is a grid of models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lossbench.errors import LossbenchError
from lossbench.experiments.gbm import GbmOptions
from lossbench.experiments.mlp import Activation, MlpOptions, Optimizer
from lossbench.losses.labels import grid

__all__ = ["GbmModel", "MlpModel", "Model", "expanded", "model_names"]


class GbmModel(BaseModel):
    """Gradient-boosted trees (LightGBM) as the model every loss is fitted with."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)
    kind: Literal["gbm"] = "gbm"
    n_estimators: int = Field(100, ge=1, le=10_000)
    """Boosting rounds (LightGBM's num_iterations)."""
    learning_rate: float = Field(0.1, gt=0, le=1)
    """Shrinkage of each round's trees."""
    num_leaves: int = Field(31, ge=2, le=131_072)
    """Leaves per tree at most."""
    min_data_in_leaf: int = Field(20, ge=1, le=10_000_000)
    """Training rows a leaf holds at least."""

    def options(self) -> GbmOptions:
        return GbmOptions(
            self.n_estimators, self.learning_rate, self.num_leaves, self.min_data_in_leaf
        )


class MlpModel(BaseModel):
    """A multilayer perceptron (PyTorch) as the model every loss is trained with
    (`lossbench.experiments.mlp`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)
    kind: Literal["mlp"] = "mlp"
    hidden: tuple[Annotated[int, Field(ge=1, le=100_000)], ...] = Field((64, 64), max_length=20)
    """Units per hidden layer; a list of such lists is a grid."""
    activation: Activation = "relu"
    """The hidden layers' activation."""
    epochs: int = Field(200, ge=1, le=1_000_000)
    """Passes over the training rows at most (L-BFGS: iterations); a fit that needs more is
    unconverged, no verdict."""
    batch_size: int = Field(64, ge=1, le=10_000_000)
    """Rows per minibatch (Adam, SGD)."""
    lr: float = Field(1e-3, gt=0, le=10)
    """The optimizer's learning rate (Adam, SGD)."""
    optimizer: Optimizer = "adam"
    """Adam or SGD on minibatches, or full-batch L-BFGS to a stationary point."""
    weight_decay: float = Field(0.0, ge=0, le=1e6)
    """L2 penalty on the weights, part of the objective."""
    patience: int = Field(20, ge=1, le=1_000_000)
    """Epochs without a better validation loss that end training."""
    validation: float = Field(0.2, ge=0, lt=1)
    """The share of each training fold held out for early stopping (0: none; training stops
    when the training objective stops falling)."""

    @model_validator(mode="after")
    def _full_batch_on_every_row(self) -> MlpModel:
        if self.optimizer == "lbfgs" and self.validation:
            raise ValueError(
                "optimizer lbfgs trains to the optimum on every training row, "
                "with no early stopping: set validation: 0"
            )
        return self

    def options(self) -> MlpOptions:
        return MlpOptions(**self.model_dump(exclude={"kind"}))


Model = Literal["linear"] | GbmModel | MlpModel
_MODELS: dict[str, type[GbmModel | MlpModel]] = {"gbm": GbmModel, "mlp": MlpModel}


def expanded(entry: Any) -> list[Model]:
    """The models one entry names: linear, or gbm or mlp settings where a list is a grid axis
    (mlp's `hidden` is one list of layer sizes; a list of such lists is its grid axis)."""
    if entry == "linear":
        return ["linear"]
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if kind not in _MODELS:
        raise ValueError(
            f"expected linear, {{kind: gbm, ...}} or {{kind: mlp, ...}}; got {entry!r:.80}"
        )
    if kind == "mlp" and isinstance(entry.get("hidden"), list):
        layers = entry["hidden"]
        if not any(isinstance(each, list) for each in layers):
            layers = [layers]  # one architecture
        entry = {
            **entry,
            "hidden": [tuple(each) if isinstance(each, list) else each for each in layers],
        }
    models: list[Model] = []
    try:
        for combo in grid(entry):
            models.append(_MODELS[kind].model_validate(combo))
    except LossbenchError as error:
        raise ValueError(f"{kind}: {error.message}") from None
    except ValidationError as error:  # said as the setting that is wrong
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(f"{kind} {where}: {first['msg']}") from None
    return models


def model_names(models: list[Model]) -> list[str]:
    """linear, gbm, mlp, and where several of a kind are run the settings that differ."""
    names = []
    for model in models:
        if model == "linear":
            names.append("linear")
            continue
        same = [m for m in models if type(m) is type(model)]
        fields = [k for k in type(model).model_fields if k != "kind"]
        varying = [k for k in fields if len({getattr(m, k) for m in same}) > 1]
        shown = ", ".join(f"{k}={_shown(getattr(model, k))}" for k in varying)
        names.append(f"{model.kind}({shown})" if varying else model.kind)
    return names


def _shown(value: Any) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, tuple) else str(value)
