"""Kernel timing: the benchmark matrix (`bench`), the pyperf driver (`driver`) and the worker
pyperf re-executes (`worker`). Kept empty so that a worker imports only what it runs."""
