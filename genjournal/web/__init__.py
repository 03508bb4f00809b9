"""The local web dashboard behind ``genjournal serve``: a thin, read-mostly shell over the journal.

Modules, one concept each:

* ``cli`` registers the ``serve`` command (it imports the web stack lazily, so
  ``genjournal`` works without the ``web`` extra);
* ``app`` builds the Starlette application: routes, pages, JSON endpoints, blobs;
* ``security`` is the ASGI guard: loopback Host check, token, same-origin for run control;
* ``live`` tails the journal once per server and fans events out to SSE clients;
* ``board`` turns the plan and the style documents into the overview grid and pages;
* ``runs`` starts and stops ordinary ``genjournal run`` subprocesses.

Every number the pages show comes from the same audit API as ``genjournal status``,
``history`` and ``costs`` (``projector.audit``), so the web and the CLI cannot disagree.
"""
