"""Errors a user can cause, each a one-line message that names the field by its dotted path.

Every user mistake (a bad scenario, an unknown Kafka property, a fault on a broker that does not
exist) is a ``ValueError`` subclass whose message reads ``<dotted.path>: <what is wrong>; <fix>``,
the same path that sweeps use (``producers.0.config.acks``). The CLI prints that line, no traceback.
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario that cannot be simulated as written.

    ``path`` is the dotted path of the offending field (``""`` for the scenario as a whole).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class NotSimulatedError(ScenarioError):
    """A valid scenario that asks for something the simulator does not model yet.

    Raised before a run starts, never silently ignored: the message names the feature.
    """
