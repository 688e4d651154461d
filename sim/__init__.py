"""kafka-sim: a discrete-event simulator of an Apache Kafka cluster (Kafka 3.9 semantics).

Stable public API::

    import sim
    scenario = sim.Scenario.from_dict(d)          # or sim.load_scenario("scenarios/default.py")
    results = sim.run(scenario)                   # -> sim.Results
    results.summary(); results.save("results/x"); sim.Results.load("results/x")
    table = sim.sweep(scenario, grid={"producers.0.config.acks": ["1", "all"]}, seeds=5)
    sim.sweep_stats(table)                        # mean and 95 % CI per grid point, long form
"""

from sim.errors import NotSimulatedError, ScenarioError
from sim.results import Results
from sim.scenario import Scenario, load_scenario
from sim.sweep import sweep, sweep_stats
from sim.world import run

__all__ = [
    "NotSimulatedError",
    "Results",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run",
    "sweep",
    "sweep_stats",
]
