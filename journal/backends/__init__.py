"""The journal's backends: each implements the ``journal.store.EventStore`` port.

``sqlite`` (the embedded default) and ``mongo`` (production and scale-out). Open one
through ``journal.config.open_store`` (a URL chooses the backend); nothing above the
journal imports a backend by name.
"""
