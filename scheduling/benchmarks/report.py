"""Plain-text tables of benchmark results, as printed by ``python -m scheduling bench``."""

from __future__ import annotations

from collections.abc import Sequence

from .day import DayResult, Served
from .runner import HhcResult, VrptwResult, summarise_vrptw


def _opt(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def vrptw_table(results: Sequence[VrptwResult]) -> str:
    """One row per instance, then the set's summary lines."""
    head = (
        f"{'instance':<10} {'n':>5} {'routes':>6} {'bks_r':>5} {'distance':>11} "
        f"{'bks_dist':>11} {'gap%':>7} {'check':>6} {'eval':>5} {'wall_s':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        if not r.valid:
            gap = "-"
        elif r.route_excess == 0:
            gap = _opt(r.gap_pct, ".2f")
        else:
            gap = f"({_opt(r.gap_pct, '.1f')})"
        lines.append(
            f"{r.instance:<10} {r.customers:>5} {r.routes:>6} {_opt(r.bks_routes, 'd'):>5} "
            f"{r.distance:>11.2f} {_opt(r.bks_distance, '.2f'):>11} {gap:>7} "
            f"{'ok' if r.check_ok else 'FAIL':>6} {'ok' if r.evaluator_ok else 'FAIL':>5} "
            f"{r.wall_s:>7.1f}"
        )
    s = summarise_vrptw(results)
    gap = _opt(s.mean_gap_at_bks_routes_pct, ".2f")
    lines += [
        "",
        f"valid: {s.valid}/{s.instances}   routes: {s.total_routes} "
        f"(summed excess over BKS: {s.route_excess_sum:+d})   distance: {s.total_distance:.2f}",
        f"at the BKS route count: {s.at_bks_routes}/{s.valid}, mean distance gap {gap} %   "
        f"solve time: {s.wall_s:.0f} s",
        "(gap% in parentheses: route count differs from the BKS, distances not comparable)",
    ]
    for r in results:
        if not r.valid:
            detail = "; ".join(r.evaluator_violations[:3]) or ", ".join(r.check_codes)
            lines.append(f"INVALID {r.instance}: check {list(r.check_codes)} eval: {detail}")
    return "\n".join(lines)


def hhc_status(r: HhcResult) -> str:
    """A short verdict: comparable, not representable, incomplete or invalid."""
    if not r.check_ok or r.evaluator_violations:
        return "INVALID"
    if r.comparable:
        return "comparable"
    if r.unrepresentable:
        return f"not representable (patients {','.join(map(str, r.unrepresentable))})"
    return "incomplete"


def hhc_table(results: Sequence[HhcResult]) -> str:
    """One row per instance, then counts and the mean gap over comparable instances."""
    head = (
        f"{'inst':<5} {'pat':>4} {'cg':>3} {'dbl':>4} {'served':>8} {'distance':>9} "
        f"{'tard':>6} {'tmax':>6} {'objective':>9} {'best_ub':>8} {'gap%':>7} {'slack':>5} "
        f"{'wall_s':>6}  status"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.instance:<5} {r.patients:>4} {r.caregivers:>3} {r.doubles_restricted:>4} "
            f"{f'{r.served}/{r.services}':>8} {r.distance:>9.2f} {r.total_tardiness:>6.1f} "
            f"{r.max_tardiness:>6.1f} {r.objective:>9.2f} {_opt(r.best_ub, '.2f'):>8} "
            f"{_opt(r.gap_pct, '.2f'):>7} {r.max_slack:>5.0f} {r.wall_s:>6.1f}  {hhc_status(r)}"
        )
    comparable = [r for r in results if r.comparable]
    gaps = [g for g in (r.gap_pct for r in comparable) if g is not None]
    mean = f"{sum(gaps) / len(gaps):.2f} %" if gaps else "-"
    unrep = sum(1 for r in results if r.unrepresentable)
    lines += [
        "",
        f"comparable (complete and feasible by the original rules): {len(comparable)}/"
        f"{len(results)}, mean gap to the best published objective: {mean}",
        f"not representable by our encoding: {unrep}   "
        f"invalid: {sum(1 for r in results if hhc_status(r) == 'INVALID')}",
        "Our encoding is a restriction (hard windows, widened by 'slack' only for patients",
        "left unserved; simultaneous doubles need both types on both caregivers; precedence",
        "doubles get fixed disjoint windows): a comparable objective is that of a genuine",
        "HHCRSP solution (start times re-timed as early as the original rules allow).",
    ]
    return "\n".join(lines)


def day_table(results: Sequence[DayResult]) -> str:
    """Engines side by side, one measure per row."""
    if not results:
        return "(no results)"
    first = results[0]
    width = max(16, *(len(r.engine) + 2 for r in results))
    rows: list[tuple[str, list[str]]] = []
    for p in sorted(first.by_priority):
        served = [r.by_priority.get(p, Served(0, 0)) for r in results]
        rows.append((f"assigned priority {p}", [f"{s.assigned}/{s.total}" for s in served]))
    rows += [
        ("assigned (all)", [f"{r.assigned}/{r.visits}" for r in results]),
        ("assigned two-staff", [f"{r.two_staff.assigned}/{r.two_staff.total}" for r in results]),
        ("travel (h)", [f"{r.travel_h:.2f}" for r in results]),
        ("travel per visit (min)", [f"{r.travel_min_per_visit:.1f}" for r in results]),
        ("continuity rate", [f"{r.continuity_rate:.3f}" for r in results]),
        ("max work (h)", [f"{r.max_work_h:.2f}" for r in results]),
        ("routes used", [f"{r.used_routes}/{r.caregivers}" for r in results]),
        ("cost (checker)", [f"{r.cost:.0f}" for r in results]),
        ("valid", ["yes" if r.valid else "NO " + ",".join(r.violations) for r in results]),
        ("solve wall (s)", [f"{r.wall_s:.1f}" for r in results]),
        ("load at start (1 min)", [f"{r.load_1min:.1f}" for r in results]),
    ]
    head = f"{f'day: {first.visits} visits':<22}" + "".join(f"{r.engine:>{width}}" for r in results)
    lines = [head, "-" * len(head)]
    lines += [f"{name:<22}" + "".join(f"{v:>{width}}" for v in vals) for name, vals in rows]
    return "\n".join(lines)
