"""Which kernels NumPy's BLAS runs: every benchmark's header names them."""

from __future__ import annotations

import os


def blas_kernels() -> dict:
    """Which kernel set NumPy's OpenBLAS runs, and whether the environment chose it.

    OpenBLAS picks its kernels for the CPU when it loads, unless ``OPENBLAS_CORETYPE`` names
    a set: these machines' environment sets ``OPENBLAS_CORETYPE=Haswell`` (AVX2 kernels on
    every CPU), which halves NumPy's float32 GEMM throughput on a CPU with AVX-512. PyTorch
    (oneDNN) and JAX (XLA) have their own kernels and are not affected."""
    kernels = None
    try:
        from threadpoolctl import threadpool_info

        kernels = next((pool.get("architecture") for pool in threadpool_info()
                        if pool.get("internal_api") == "openblas"), None)
    except ImportError:  # (threadpoolctl comes with scikit-learn)
        pass
    return {"kernels": kernels, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def describe(blas: dict | None) -> str:
    """``blas_kernels()``'s dict in a benchmark's header: the kernels, and OPENBLAS_CORETYPE."""
    blas = blas or {}
    return f"OpenBLAS kernels {blas.get('kernels')}, OPENBLAS_CORETYPE={blas.get('OPENBLAS_CORETYPE')}"
