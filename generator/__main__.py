"""Lets ``python -m generator`` run the ``genjournal`` command line."""

from generator.cli import main

main()
