"""Chaos: the six invariants of docs/design.md checked by killing real runs at failpoints and at random.

``driver`` runs one seeded episode (a fake OpenAI server, a data dir, kills, restarts and
checks after every crash); ``soak`` runs many episodes and prints the reliability table;
``checks`` and ``accounting`` are the pure invariant checks they share.
"""
