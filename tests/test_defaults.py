"""Each default is said once, by the config's models: the embedded default config, the
annotated config in the docs and the library's entry points agree with them."""

import inspect
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

from lossbench import config
from lossbench.config import FitOptions, Timing
from lossbench.experiments.fitting import fit

ROOT = Path(__file__).resolve().parents[1]


def _annotated_config() -> dict:
    """The first YAML block of docs/configs.md: every setting with its default."""
    tokens = MarkdownIt("commonmark").parse((ROOT / "docs" / "configs.md").read_text())
    return yaml.safe_load(next(t.content for t in tokens if t.type == "fence" and t.info == "yaml"))


def test_the_embedded_default_times_what_an_empty_timing_section_times():
    embedded = yaml.safe_load(config.default_text())
    assert Timing.model_validate(embedded["timing"]) == Timing()


def test_the_docs_annotated_config_shows_the_models_defaults():
    shown = _annotated_config()
    assert Timing.model_validate(shown["timing"]) == Timing()
    assert FitOptions.model_validate(shown["experiments"][0]["fit"]) == FitOptions()


def test_fit_takes_the_config_s_defaults():
    defaults = {k: p.default for k, p in inspect.signature(fit).parameters.items()}
    for name, field in FitOptions.model_fields.items():
        assert defaults[name] == field.default, name
