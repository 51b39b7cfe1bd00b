"""scikit-learn's ``global_random_seed`` fixture, as its own conftest provides it.

``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` unset: seed 42; ``"all"``: 0–99; ``"a-b"``: a..b;
``"n"``: n (each within 0–99), so that scikit-learn's tests run here as they run there.
"""

import os


def _global_random_seeds() -> list:
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if value is None:
        return [42]
    if value == "all":
        return list(range(100))
    if "-" in value:
        start, stop = value.split("-")
        seeds = list(range(int(start), int(stop) + 1))
    else:
        seeds = [int(value)]
    if min(seeds) < 0 or max(seeds) > 99:
        raise ValueError(
            "The value(s) of the environment variable SKLEARN_TESTS_GLOBAL_RANDOM_SEED must be "
            f"in the range [0, 99] (or 'all'), got: {value}"
        )
    return seeds


def pytest_generate_tests(metafunc):
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", _global_random_seeds())
