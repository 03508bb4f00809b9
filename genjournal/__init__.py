"""genjournal: the delivery layer on top of the journal, projector and generator packages.

``genjournal.cli`` is the command line, ``genjournal.web`` the dashboard, and
``genjournal.testing`` the test doubles (a fake OpenAI server, sample plans and events)
that tests, benchmarks and users' own pipelines run against.
"""

from generator import __version__

__all__ = ["__version__"]
