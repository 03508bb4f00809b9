"""genjournal's generator: turns a plan into steps and runs them against a provider.

Every run replays the journal, computes ``pending = plan − done``, and appends one event
per step the moment its result is in hand (``generator.session`` wires a run together;
``generator.runner`` runs it).
"""

#: the code version every ``RunStarted`` records
__version__ = "0.1.0"
