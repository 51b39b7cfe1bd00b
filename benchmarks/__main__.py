"""Run every benchmark: ``python -m benchmarks [--quick]`` (or ``make bench``).

1. ``mlp_speed``: backprop's ``fit`` against PyTorch eager and scikit-learn on a
   784-256-128-10 MLP (throughput, GEMM share, predict latency, peak memory);
2. ``sklearn_mlp``: ``backprop.sklearn`` against scikit-learn's MLP (accuracy, fit time);
3. ``digits_accuracy``: the same network and recipe in the three libraries on the digits;
4. ``conv``: LeNet-5 and the notes' ball classifier, backprop's ``fit`` against PyTorch eager;
5. ``embeddings``: one-hot encoding against embeddings on a 2000-category column;
6. ``anchors``: backprop's ``fit`` against the strongest CPU anchors (torch.compile, Keras 3 on
   JAX, a jitted JAX step, PyTorch eager, scikit-learn, a bare NumPy loop) as ratios and shares
   of the GEMM peak, predicting against PyTorch, and a scaling table (width, depth, batch).

Each prints a markdown table and writes JSON under benchmarks/results/.
"""

import sys

from benchmarks import anchors, conv, digits_accuracy, embeddings, mlp_speed, sklearn_mlp


def main(argv) -> int:
    quick = ["--quick"] if "--quick" in argv else []
    status = mlp_speed.main(quick)
    status |= sklearn_mlp.main(quick)
    status |= digits_accuracy.main(["--seeds", "2" if quick else "5"])
    status |= conv.main(quick)
    status |= embeddings.main(["--seeds", "1" if quick else "3"])
    status |= anchors.main(quick)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
