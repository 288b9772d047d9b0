"""``lossbench init --ci package.module:function``: a CI gate for a user's own loss kernel.

Two files: a timing config for the kernel, and a GitHub Actions workflow with the two jobs
the docs' CI page explains: instruction counts for the gate (deterministic on a busy runner,
so a 10% change fails at one process a side) and time for the picture (reported, not gated),
each run on the pull request's base and head in one job and compared with ``lossbench
compare``. The kernel is imported from the checkout (the working directory) on each side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lossbench import __version__
from lossbench.errors import LossbenchError

__all__ = ["WORKFLOW", "CiStarter", "starter"]

WORKFLOW = ".github/workflows/lossbench.yml"
_SPEC = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*")


@dataclass(frozen=True)
class CiStarter:
    """The kernel's name, whether it has its own gradient, and where the config goes."""

    spec: str
    gradient: bool
    installable: bool  # the repository is a package pip can install (pyproject or setup.py)

    def config(self) -> str:
        ops = "[value, value_and_gradient]" if self.gradient else "[value]"
        why = (
            "its own gradient: function.gradient"
            if self.gradient
            else "no function.gradient: a gradient would be central differences, lossbench's "
            "cost, not yours"
        )
        return (
            "\n".join(
                [
                    f"# Kernel timing for {self.spec}, written by `lossbench init --ci`.",
                    f"# {WORKFLOW} runs it on each pull request's base and head and compares them:",
                    "# instruction counts gate the change, time is reported beside them.",
                    "# Locally: lossbench run THIS_FILE --only timing",
                    "name: ci",
                    "timing:",
                    f'  losses: ["{self.spec}"]',
                    f"  ops: {ops}   # {why}",
                    "  impls: [numpy]   # your function, called as it is",
                    "  sizes: [100000, 1000000]   # elements per call",
                    "  dtypes: [float64]",
                    "  # fixed loops, so that two rounds of a side merge into one",
                    "  # (pyperf convert --add); a time verdict needs 4 processes a side",
                    "  pyperf: {processes: 4, values: 3, warmups: 0, loops: 8}",
                ]
            )
            + "\n"
        )

    def workflow(self, config: str) -> str:
        install = (
            "pip install -q .   # your package, as this side has it"
            if self.installable
            else "true   # no pyproject.toml: your module is imported from the checkout"
        )
        return _TEMPLATE.format(
            spec=self.spec, config=config, install=install, version=__version__, setup=_SETUP
        )


def starter(spec: str, search: tuple[str, ...]) -> CiStarter:
    """A `CiStarter` for the kernel `spec` names, imported from `search` first (to check
    that it exists, and whether it has a gradient); a `LossbenchError` if it cannot be."""
    from pathlib import Path

    from lossbench.losses.user import import_function

    if not _SPEC.fullmatch(spec):
        raise LossbenchError(
            f"--ci: expected package.module:function (your loss kernel); got {spec!r:.80}"
        )
    function = import_function(spec, search, what="--ci kernel")
    root = Path(search[0])
    installable = (root / "pyproject.toml").is_file() or (root / "setup.py").is_file()
    return CiStarter(spec, callable(getattr(function, "gradient", None)), installable)


# each job's runner and checkout (history for both sides), filled into `_TEMPLATE` twice
_SETUP = """\
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {fetch-depth: 0}
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}"""

# ${{ }} are GitHub's expressions; {{ }} escape str.format's braces
_TEMPLATE = """\
# Kernel performance of {spec} on every pull request, written by `lossbench init --ci`.
# gate: instruction counts under valgrind (they do not move with the runner's load); a
#   change beyond 5% fails the pull request. picture: time, reported in the job summary.
# Each job runs the pull request's base and head on the same runner, then compares them.
name: kernel performance
on: pull_request
env:
  LOSSBENCH: "lossbench=={version}"   # pip's name for the lossbench you use (or a git URL)
  CONFIG: {config}
  BASE: ${{{{ github.event.pull_request.base.sha }}}}
  HEAD: ${{{{ github.event.pull_request.head.sha }}}}
jobs:
  gate:
{setup}
      - name: install valgrind
        run: sudo apt-get update && sudo apt-get install -y valgrind
      - name: count base and head
        run: |
          pip install -q "$LOSSBENCH"
          cp "$CONFIG" "$RUNNER_TEMP/ci.yaml"   # the head's config times both sides
          for side in base head; do
            if [ "$side" = base ]; then ref=$BASE; else ref=$HEAD; fi
            git checkout -q "$ref"
            {install}
            # counts grow with n as the work does: one size tells, at a fraction of the cost
            lossbench run "$RUNNER_TEMP/ci.yaml" --only timing --out "runs/$side" --quiet \\
              --set timing.measure=instructions --set timing.pyperf.processes=2 \\
              --set "timing.sizes=[100000]"
          done
      - name: compare
        run: |
          lossbench compare runs/base/*/ runs/head/*/ --threshold 0.05 \\
            --format markdown --output report.md
      - if: always()
        run: cat report.md >> "$GITHUB_STEP_SUMMARY"
  picture:
{setup}
      - name: time base and head, alternating
        run: |
          pip install -q "$LOSSBENCH"
          cp "$CONFIG" "$RUNNER_TEMP/ci.yaml"
          for round in 1 2; do
            for side in base head; do
              if [ "$side" = base ]; then ref=$BASE; else ref=$HEAD; fi
              git checkout -q "$ref"
              {install}
              lossbench run "$RUNNER_TEMP/ci.yaml" --only timing --out "runs/$side" \\
                --name "$side-$round" --quiet
            done
          done
          for side in base head; do
            python -m pyperf convert runs/$side/*-$side-1/timings.pyperf.json \\
              --add runs/$side/*-$side-2/timings.pyperf.json -o "$side.json"
          done
      - name: compare
        run: |
          lossbench compare base.json head.json --format markdown --output report.md --no-fail
      - if: always()
        run: cat report.md >> "$GITHUB_STEP_SUMMARY"
"""
