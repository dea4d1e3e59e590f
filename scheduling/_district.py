"""A district of the day cut out around a visit left out, and its re-solved routes put back.

On a full day the room for a visit in an outlying district is often held by the
district's own routes, each near its maximum working time. No move of one or two visits
frees it, nor a ruin of a few routes: the district's travel has to fall first. A solve of
the district alone, with the whole portfolio, does that. From a 30 s plan of generated
day 28 (solver seed 0) whose only visit out was a 60-minute priority-3 visit there, the
district of its nine nearest caregivers (61 visits) re-solved served it with 2 of 3
seeds in 3 s and 3 of 3 in 6 s, and the day's cost fell from 11,158 to 9,808-9,896.

The district is the ``DISTRICT_ROUTES`` caregivers who may serve the visit and start
nearest it, and the ``DISTRICT_HELPERS`` members of staff nearest it who may not, with the
visits on their routes and the visit itself. A two-staff visit whose other caregiver is
outside stays where it is: a single-staff visit locked to its caregiver inside at its
start. The caller solves the district and reads the spliced routes into the whole model,
which decides whether they are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ._extract import RouteNodes, label_pairs, starts_of, stop_node
from ._routing import DayModel
from .problem import DayPlan, DayProblem, Lock

DISTRICT_ROUTES = 9
"""Caregivers in a district who may serve its visit: day 28's district above, and the nine
caregivers within 10 km of day 18's outlying two-staff visit."""
DISTRICT_HELPERS = 3
"""Members of staff in a district who may not serve its visit (another skill, gender or
an exclusion). They can take over the other caregivers' visits that need none of that,
freeing the time the visit needs: a nursing visit's district of nurses alone can only
pass the nurses' personal care among them. Whole 30 s solves of 24 hard cases, two at a
time: every visit served in 17 of 24 with helpers alone, 13 of 24 without, side by side
in one batch (``docs/BENCHMARKS.md``)."""


def district(day: DayModel, routes: Sequence[RouteNodes], i: int) -> DayProblem:
    """The day cut down to the district around visit ``i``."""
    problem, nodes = day.problem, day.nodes
    at = nodes.of_visit[i][0][0]
    allowed = day.scopes[i].allowed
    helpers = [k for k, c in enumerate(problem.caregivers) if k not in allowed and not c.volunteer]

    def nearest(ks: Sequence[int], n: int) -> set[int]:
        return set(sorted(ks, key=lambda k: day.travel_s(k, nodes.start_node[k], at))[:n])

    inside = nearest(allowed, DISTRICT_ROUTES) | nearest(helpers, DISTRICT_HELPERS)
    holders: dict[int, set[int]] = {}
    for r in routes:
        for n in r.nodes:
            holders.setdefault(nodes.visit[n], set()).add(r.caregiver)
    visits = {} if i in holders else {i: problem.visits[i]}  # placed: with its route
    ids = {problem.caregivers[k].id for k in inside}
    locks = {lock.visit_id: lock for lock in problem.locks if lock.caregiver_id in ids}
    for r in (routes[k] for k in sorted(inside)):
        for n, start in zip(r.nodes, r.starts_s, strict=True):
            j = nodes.visit[n]
            v = problem.visits[j]
            if holders[j] <= inside:
                visits[j] = v
            else:
                visits[j] = replace(v, staff=1)
                locks[v.id] = Lock(v.id, problem.caregivers[r.caregiver].id, start)
    kept = {v.id for v in visits.values()}
    return replace(
        problem,
        caregivers=tuple(problem.caregivers[k] for k in sorted(inside)),
        visits=tuple(visits[j] for j in sorted(visits)),
        locks=tuple(lock for lock in locks.values() if lock.visit_id in kept),
    )


def splice(
    day: DayModel, routes: Sequence[RouteNodes], plan: DayPlan
) -> tuple[list[list[int]], dict[int, int]]:
    """The day's routes with those of ``plan``'s caregivers (a district's) replaced by
    ``plan``'s, as visit nodes, and each routed node's start. A two-staff visit split by
    the district keeps outside the member of staff's node it had; the one inside takes
    the other."""
    problem, nodes = day.problem, day.nodes
    caregiver = {c.id: k for k, c in enumerate(problem.caregivers)}
    visit = {v.id: j for j, v in enumerate(problem.visits)}
    replaced = {caregiver[r.caregiver_id] for r in plan.routes}
    out = [[] if r.caregiver in replaced else list(r.nodes) for r in routes]
    taken = starts_of(r for r in routes if r.caregiver not in replaced)
    for route in plan.routes:
        seq = out[caregiver[route.caregiver_id]]
        for stop in route.stops:
            node = stop_node(nodes, visit[stop.visit_id], stop.start_s, taken)
            if node is None:
                raise ValueError(f"{stop.visit_id} at {stop.start_s} fits no node of the day")
            taken[node] = stop.start_s
            seq.append(node)
    label_pairs(day, out)
    return out, taken
