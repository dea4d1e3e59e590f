"""CareRoute's optimisation package: a care day in, a checked day plan out.

A ``DayProblem`` (caregivers with shifts, breaks and skills; visits with windows,
durations, priorities and preferences) is read from ``careroute.day/1`` with
``read_problem`` or built by the app, solved with ``solve`` into a ``DayPlan``,
and checked independently with ``check``. ``generate_day`` makes realistic
seeded days for tests and benchmarks; ``python -m scheduling`` is the command
line. The package imports no Flask, no database and nothing from ``app`` or
``timebank``.
"""

from .check import CheckReport, Violation, check, plan_cost
from .generate import generate_day
from .io import (
    FormatError,
    dump_plan,
    dump_problem,
    load_plan,
    load_problem,
    read_plan,
    read_problem,
    write_plan,
    write_problem,
)
from .problem import (
    Break,
    BreakTaken,
    Caregiver,
    DayPlan,
    DayProblem,
    Kpis,
    Lock,
    Route,
    SolverInfo,
    Stop,
    Travel,
    Unassigned,
    Visit,
    Weights,
)
from .solve import Progress, SolveParams, solve
from .travel import MatrixProvider, TravelTimes, build_travel_times

__all__ = [
    "Break",
    "BreakTaken",
    "Caregiver",
    "CheckReport",
    "DayPlan",
    "DayProblem",
    "FormatError",
    "Kpis",
    "Lock",
    "MatrixProvider",
    "Progress",
    "Route",
    "SolveParams",
    "SolverInfo",
    "Stop",
    "Travel",
    "TravelTimes",
    "Unassigned",
    "Violation",
    "Visit",
    "Weights",
    "build_travel_times",
    "check",
    "dump_plan",
    "dump_problem",
    "generate_day",
    "load_plan",
    "load_problem",
    "plan_cost",
    "read_plan",
    "read_problem",
    "solve",
    "write_plan",
    "write_problem",
]
