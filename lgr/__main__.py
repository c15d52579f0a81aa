"""Run the lgr CLI as ``python -m lgr``."""

from lgr.cli import main

if __name__ == "__main__":
    main()
