"""Fuzz suite: hypothesis targets for every parser and decoder that takes bytes from the network.

Each target runs ``FUZZ_EXAMPLES`` examples: a few hundred in the normal test run, and as many as
``LGR_FUZZ_EXAMPLES`` says in the long run (README, Development)::

    LGR_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/fuzz -p no:randomly

Targets decorate their test with :data:`fuzz` (``@fuzz`` above ``@given``) so that every target
takes the same example count, has no deadline (a loaded CI machine is slow, not wrong) and keeps
hypothesis's database out of the checkout.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("LGR_FUZZ_EXAMPLES", "300"))

fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
