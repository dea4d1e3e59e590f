"""``flask plan``: plan a day now, export and import it, and benchmark the repair.

``plan day`` runs the same solve job as the API, in this process, and prints the KPIs of
the version it stores. ``plan export`` writes the careroute.day/1 file that
``python -m scheduling solve`` takes as it is; ``plan import`` stores a plan computed
outside as a version of kind import, after checking it. ``plan bench-repair`` needs no
database: it generates a day, plans it, takes a caregiver away mid-morning and repairs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from sqlalchemy import select

from app.extensions import db
from app.models import Agency, PlanVersion
from app.services import dispatch
from app.services.dispatch_repair import RepairBench, busiest_after, measure_repair
from app.services.dispatch_versions import latest
from app.services.errors import ServiceError
from scheduling import (
    DayPlan,
    DayProblem,
    FormatError,
    SolveParams,
    check,
    generate_day,
    solve,
    write_problem,
)
from scheduling.io import format_time, parse_json

plan_group = click.Group("plan", help="Plan agencies' days with the optimiser.")


def _parse_date(ctx: click.Context, param: click.Parameter, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _parse_hhmm(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        t = dt.time.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time of day (HH:MM)") from None
    return t.hour * 3600 + t.minute * 60


def _agency(code: str) -> Agency:
    agency = db.session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise click.BadParameter(f"no agency has the code {code!r}", param_hint="'--agency'")
    return agency


def pick_agencies(code: str | None, every: bool) -> list[Agency]:
    if every == (code is not None):
        raise click.UsageError("give exactly one of --agency and --all-agencies")
    if code is not None:
        return [_agency(code)]
    return list(
        db.session.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.code))
    )


def _kpi_line(version: PlanVersion) -> str:
    k = version.plan["kpis"]
    verdict = "valid" if version.valid else f"{len(version.violations)} violations"
    return (
        f"version {version.number} ({version.kind}): {k['assigned']}/{k['visits']} visits "
        f"assigned, travel {k['travel_s'] / 3600:.1f} h, continuity {k['continuity_rate']:.2f}, "
        f"{verdict}"
    )


@plan_group.command("day")
@click.option("--agency", "agency_code", default=None, help="The agency's code.")
@click.option("--all-agencies", "every", is_flag=True, help="Every active agency, one by one.")
@click.option("--date", "day", required=True, callback=_parse_date, help="The day, YYYY-MM-DD.")
@click.option(
    "--time-limit",
    type=click.FloatRange(0.1, 600),
    default=20,
    show_default=True,
    help="Solver time limit per agency, in seconds.",
)
@click.option(
    "--if-unplanned", "if_unplanned", is_flag=True, help="Skip agencies whose day has a plan."
)
def day_command(
    agency_code: str | None, every: bool, day: dt.date, time_limit: float, if_unplanned: bool
) -> None:
    """Optimise DATE for an agency (or all) now and store the plan as a new version."""
    failed = False
    for agency in pick_agencies(agency_code, every):
        if if_unplanned and (current := latest(db.session, agency.id, day)) is not None:
            click.echo(f"{agency.code} {day}: already planned, {_kpi_line(current)}")
            continue
        try:
            job = dispatch.plan_now(db.session, agency, day, time_limit)
        except ServiceError as exc:  # a job of this day still queued or running
            raise click.ClickException(f"{agency.code} {day}: {exc.message}") from None
        if job.status != "succeeded" or job.plan_version_id is None:
            failed = True
            click.echo(f"{agency.code} {day}: the solve {job.status}: {job.error or ''}", err=True)
            continue
        version = db.session.get(PlanVersion, job.plan_version_id)
        assert version is not None
        click.echo(f"{agency.code} {day}: {_kpi_line(version)}")
    if failed:
        raise click.exceptions.Exit(1)


@plan_group.command("export")
@click.option("--agency", "agency_code", required=True, help="The agency's code.")
@click.option("--date", "day", required=True, callback=_parse_date, help="The day, YYYY-MM-DD.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Where to write the careroute.day/1 file.",
)  # fmt: skip
def export_command(agency_code: str, day: dt.date, output: Path) -> None:
    """Write DATE of an agency as the day file `python -m scheduling solve` takes."""
    problem = dispatch.load_plan_problem(db.session, _agency(agency_code), day)
    try:
        write_problem(problem, output)
    except OSError as exc:
        raise click.FileError(str(output), hint=exc.strerror) from None
    click.echo(
        f"{output}: {len(problem.visits)} visits, {len(problem.caregivers)} caregivers, {day}"
    )


@plan_group.command("import")
@click.option("--agency", "agency_code", required=True, help="The agency's code.")
@click.option("--date", "day", required=True, callback=_parse_date, help="The day, YYYY-MM-DD.")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(agency_code: str, day: dt.date, plan_file: Path) -> None:
    """Store PLAN_FILE (careroute.plan/1) as a version of DATE, after checking it."""
    agency = _agency(agency_code)
    try:
        document = parse_json(plan_file.read_bytes().decode("utf-8"))
        version = dispatch.import_plan(db.session, agency, day, document)
    except UnicodeDecodeError:
        raise click.BadParameter("the file is not UTF-8 text", param_hint="PLAN_FILE") from None
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint="PLAN_FILE") from None
    click.echo(f"{agency.code} {day}: {_kpi_line(version)}")
    for v in version.violations[:20]:
        click.echo(f"  {v['code']}: {v['message']}")


@plan_group.command("bench-repair")
@click.option("--visits", type=click.IntRange(1, 2000), default=400, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated day.")
@click.option(
    "--from", "from_s", default="10:00", show_default=True, callback=_parse_hhmm,
    help="When the caregiver leaves.",
)  # fmt: skip
@click.option("--caregiver", default=None, help="Who leaves (default: the busiest after --from).")
@click.option("--first-limit", type=click.FloatRange(0.1, 600), default=30, show_default=True)
@click.option("--repair-limit", type=click.FloatRange(0.1, 600), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench_repair_command(
    visits: int,
    seed: int,
    from_s: int,
    caregiver: str | None,
    first_limit: float,
    repair_limit: float,
    as_json: bool,
) -> None:
    """Plan a generated day, take a caregiver away and measure the repair (no database)."""
    problem = generate_day(visits, seed)
    first = solve(problem, SolveParams(time_limit_s=first_limit, seed=seed))
    first_report = check(problem, first)
    who = caregiver or busiest_after(first, problem, from_s)
    if who not in {c.id for c in problem.caregivers}:
        raise click.BadParameter(
            f"{who!r} is not a caregiver of the day", param_hint="'--caregiver'"
        )

    def repair_solve(p: DayProblem, hint: DayPlan) -> DayPlan:
        return solve(p, SolveParams(time_limit_s=repair_limit, seed=seed), hint=hint)

    def codes(p: DayProblem, plan: DayPlan) -> list[str]:
        return sorted(check(p, plan).codes())

    bench = measure_repair(problem, first, who, from_s, repair_solve, codes)
    if as_json:
        click.echo(json.dumps(_bench_json(visits, seed, first_limit, repair_limit, bench)))
        return
    click.echo(
        f"Day: {visits} visits, seed {seed}, {len(problem.caregivers)} caregivers; first plan "
        f"({first_limit:g} s): {first.kpis.assigned}/{first.kpis.visits} assigned, "
        f"travel {first.kpis.travel_s / 3600:.1f} h, "
        f"{'valid' if first_report.ok else 'INVALID'}"
    )
    _print_bench(bench, repair_limit)


def _print_bench(b: RepairBench, repair_limit: float) -> None:
    click.echo(f"Absent: {b.caregiver_id} from {format_time(b.from_s)}")
    click.echo(
        f"Repair: new plan in {b.seconds:.2f} s (solver limit {repair_limit:g} s), "
        f"valid: {'yes' if b.valid else 'NO ' + ', '.join(b.violations)}"
    )
    click.echo(
        f"  absent caregiver's visits from {format_time(b.from_s)}: {b.absent_after} -> "
        f"{b.reassigned} reassigned, {b.unassigned} unassigned"
    )
    click.echo(f"  other visits moved: {b.others_moved} of {b.others} ({b.moved_pct:.1f}%)")
    click.echo(f"  kept as started: {b.fixed} stops; dropped (windows passed): {b.dropped}")
    click.echo(
        f"  assigned {b.assigned_before} -> {b.assigned_after}; travel "
        f"{b.travel_before_s / 3600:.1f} h -> {b.travel_after_s / 3600:.1f} h"
    )


def _bench_json(
    visits: int, seed: int, first_limit: float, repair_limit: float, b: RepairBench
) -> dict[str, object]:
    return {
        "visits": visits,
        "seed": seed,
        "first_limit_s": first_limit,
        "repair_limit_s": repair_limit,
        "caregiver": b.caregiver_id,
        "from": format_time(b.from_s),
        "seconds": round(b.seconds, 3),
        "valid": b.valid,
        "violations": list(b.violations),
        "absent_after": b.absent_after,
        "reassigned": b.reassigned,
        "unassigned": b.unassigned,
        "others": b.others,
        "others_moved": b.others_moved,
        "others_moved_pct": round(b.moved_pct, 2),
        "fixed": b.fixed,
        "dropped": b.dropped,
        "assigned_before": b.assigned_before,
        "assigned_after": b.assigned_after,
        "travel_before_s": b.travel_before_s,
        "travel_after_s": b.travel_after_s,
    }
