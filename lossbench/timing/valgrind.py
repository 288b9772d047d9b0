"""Instruction counts under valgrind's callgrind, for ``timing: {measure: instructions}``.

A timing worker runs under ``valgrind --tool=callgrind --instr-atstart=no``: nothing is counted
until the worker asks. Around each benchmark's calls it asks callgrind, through valgrind's
client requests, to start counting, zero the counters, dump them (one file per benchmark,
named by it) and stop; imports, numba's cache loads and the warm-up are never counted. The
requests are the few instructions valgrind's own header (``valgrind.h``, amd64) emits, written
here as LLVM inline assembly in a numba intrinsic: no C compiler is needed, and outside
valgrind they do nothing (the default value comes back).

Counts are deterministic: the same code gives the same count in every process to a few in
10⁵ (`benchmarks` measure it), so a change beyond the threshold is a verdict at one process.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from lossbench.errors import LossbenchError

__all__ = ["ENVIRONMENT", "INSTALL", "command", "count", "dumped", "require"]

INSTALL = "sudo apt-get install valgrind"
_BASE = (ord("C") << 24) | (ord("T") << 16)  # VG_USERREQ_TOOL_BASE('C', 'T'): callgrind's
_ZERO, _DUMP_AT, _START, _STOP = _BASE + 1, _BASE + 3, _BASE + 4, _BASE + 5


def require() -> str:
    """The valgrind executable, or a `LossbenchError` saying how to install it."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise LossbenchError(
            f"timing.measure: instructions needs an x86-64 machine; this is "
            f"{platform.machine()}: set timing.measure: time",
            where=("timing", "measure"),
        )
    found = shutil.which("valgrind")
    if found is None:
        raise LossbenchError(
            f"timing.measure: instructions counts with valgrind, which is not installed "
            f"here; install it ({INSTALL}) or set timing.measure: time",
            where=("timing", "measure"),
        )
    return found


ENVIRONMENT = {"PYTHONHASHSEED": "0"}  # the same dict layouts, so the same paths, everywhere


def command(valgrind: str, out_dir: Path) -> list[str]:
    """The prefix that runs a worker under callgrind, its dumps written into `out_dir` (run
    it with `ENVIRONMENT`)."""
    return [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--dump-instr=no",
        f"--callgrind-out-file={out_dir}/callgrind.%p.out",
        "-q",
    ]


def count(run, inner: int, name: str) -> None:
    """Call `run` `inner` times, counted by callgrind and dumped under `name`. The garbage
    collector is held off meanwhile: a collection lands where allocation counts say, which
    moved a count by 4% between two values of one process."""
    import gc

    label = np.frombuffer(name.encode("ascii", "replace") + b"\0", np.uint8).copy()
    gc.collect()
    gc.disable()
    try:
        _request(_START)
        _request(_ZERO)
        for _ in range(inner):
            run()
        _request(_DUMP_AT, label.ctypes.data)
        _request(_STOP)
    finally:
        gc.enable()


def dumped(out_dir: Path) -> dict[str, int]:
    """The instructions (Ir) each dump in `out_dir` counted, by the name it was dumped under."""
    counts = {}
    for path in sorted(Path(out_dir).glob("callgrind.*.out.*")):
        text = path.read_text(encoding="utf-8", errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (.*)$", text, re.MULTILINE)
        total = re.search(r"^summary: (\d+)$", text, re.MULTILINE)
        if trigger and total:
            counts[trigger.group(1)] = int(total.group(1))
    return counts


_kernel = None


def _request(code: int, argument: int = 0) -> int:
    global _kernel
    if _kernel is None:
        _kernel = _compile()
    args = np.zeros(6, np.uint64)
    args[0], args[1] = code, argument
    return int(_kernel(args))


def _compile():
    """The client-request call, compiled once (numba: only a worker that counts loads it)."""
    import llvmlite.binding as llvm
    import numba
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    llvm.initialize_native_asmparser()  # numba does not: inline assembly needs it

    @intrinsic
    def client_request(typingctx, address):
        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            # valgrind.h's __SPECIAL_INSTRUCTION_PREAMBLE and "xchgq %rbx,%rbx": rdx = result
            asm = (
                "rolq $$3, %rdi ; rolq $$13, %rdi\n\trolq $$61, %rdi ; rolq $$51, %rdi\n\t"
                "xchgq %rbx,%rbx"
            )
            call = ir.InlineAsm(
                ir.FunctionType(i64, [i64, i64]),
                asm,
                "={dx},{ax},0,~{cc},~{memory}",
                side_effect=True,
            )
            return builder.call(call, [args[0], ir.Constant(i64, 0)])

        return types.uint64(types.uint64), codegen

    @numba.njit(cache=False)
    def kernel(args):
        return client_request(numba.uint64(args.ctypes.data))

    return kernel
