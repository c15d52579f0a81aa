#!/usr/bin/env python3
"""Regenerate the dashboard's screen snapshots (tests/tui/snapshots/*.txt).

Usage: .venv/bin/python scripts/regen_dashboard_snapshots.py

Runs tests/tui/test_snapshots.py with LGR_UPDATE_SNAPSHOTS=1, which rewrites each snapshot
from what the screen shows now. Run it after an intended change to a screen of `lgr dashboard`,
read the diff (`git diff tests/tui/snapshots`), and commit it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    env = {**os.environ, "LGR_UPDATE_SNAPSHOTS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/tui/test_snapshots.py"],
                          cwd=ROOT, env=env)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
