"""Run the benchmarks: ``python -m benchmarks [--quick]`` (or ``make bench``)."""

import sys

from benchmarks import mlp_speed


if __name__ == "__main__":
    sys.exit(mlp_speed.main(sys.argv[1:]))
