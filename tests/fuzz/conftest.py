"""The long fuzz run (``LGR_FUZZ_EXAMPLES`` set) lifts pytest-timeout's 120 s per test: 10,000
examples of one target take minutes on a busy 2-core machine, and a timeout there is not a
finding."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "LGR_FUZZ_EXAMPLES" not in os.environ:
        return
    for item in items:
        if "tests/fuzz/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.timeout(0))
