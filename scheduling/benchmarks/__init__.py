"""Public benchmark sets for the scheduling package, and the runner that measures it.

Readers turn Solomon / Gehring & Homberger VRPTW files and Mankowska et al. (2014)
home-health-care files into ``DayProblem``s; independent evaluators re-check the
solver's plans by each benchmark's own rules in double precision; ``cli.main``
runs a set and prints the figures beside the best known results. The readers
and evaluators do not import the solver, so they can be used without it.
"""

from .bks import HhcBest, VrptwBks, read_hhc_best, read_vrptw_bks
from .errors import BenchmarkError, BenchmarkFileError
from .mankowska import (
    Encoding,
    MankowskaEvaluation,
    MankowskaInstance,
    ServiceStart,
    earliest_starts,
    encode,
    evaluate,
    read_mankowska,
    solution_from_plan,
)
from .vrptw import (
    SCALE,
    VrptwEvaluation,
    VrptwInstance,
    VrptwNode,
    evaluate_vrptw,
    read_vrptw,
    routes_from_plan,
    to_day_problem,
)

__all__ = [
    "SCALE",
    "BenchmarkError",
    "BenchmarkFileError",
    "Encoding",
    "HhcBest",
    "MankowskaEvaluation",
    "MankowskaInstance",
    "ServiceStart",
    "VrptwBks",
    "VrptwEvaluation",
    "VrptwInstance",
    "VrptwNode",
    "earliest_starts",
    "encode",
    "evaluate",
    "evaluate_vrptw",
    "read_hhc_best",
    "read_mankowska",
    "read_vrptw",
    "read_vrptw_bks",
    "routes_from_plan",
    "solution_from_plan",
    "to_day_problem",
]
