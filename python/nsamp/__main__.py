"""``python -m nsamp ARGS`` (and the ``nsamp`` script a pip install makes): nsamp's command line."""

import sys

from ._nsamp import cli


def main() -> None:
    """Runs the command line on ``sys.argv[1:]`` and exits with its code."""
    sys.exit(cli(sys.argv[1:]))


if __name__ == "__main__":
    main()
