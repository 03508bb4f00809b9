"""Lets ``python -m genjournal`` run the ``genjournal`` command line."""

from genjournal.cli import main

main()
