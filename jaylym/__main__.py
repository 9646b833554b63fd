"""`python -m jaylym` is the `jaylym` command."""

from jaylym.cli import main

main()
