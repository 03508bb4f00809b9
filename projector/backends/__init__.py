"""The projection's backends: each implements the ``projector.store.ViewStore`` port.

``sqlite`` (views in the journal's own file), with a parallel rebuild target, and
``mongo`` (+ ``mongo_facts``: the audit facts as collections). ``projector.views``
opens the one that lives beside a journal.
"""
