"""UI tests render timestamps in UTC, so screens do not depend on the machine's zone."""

from __future__ import annotations

import os
import time

import pytest


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
    os.environ.get("TZ")
