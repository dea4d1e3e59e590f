"""``flask demo``: load the demo city, print its logins, simulate a past month of care."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import click
from sqlalchemy import select

from app.cli.options import month_option
from app.extensions import db
from app.models import Agency
from app.services import timebank_hooks  # noqa: F401  (registers the verified-visit listener)
from app.services.demo import DemoLogin, demo_logins, is_empty, load_demo
from app.services.demo_month import MonthManifest, month_has_visits, simulate_month
from app.services.errors import Conflict, ServiceError

demo_group = click.Group("demo", help="The demo city (a Nantong-like LTCI home-care pilot).")


@demo_group.command("load")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the city.")
@click.option("--reset", is_flag=True, help="Delete all existing data first.")
@click.option(
    "--if-empty", "if_empty", is_flag=True, help="Do nothing (exit 0) if the database has data."
)
def load_command(seed: int, reset: bool, if_empty: bool) -> None:
    """Load the demo city into an empty database and print its logins."""
    if reset and if_empty:
        raise click.UsageError("--reset and --if-empty contradict each other")
    if if_empty and not is_empty(db.session):
        click.echo("The database already holds data: demo not loaded.")
        return
    try:
        summary = load_demo(db.session, seed=seed, reset=reset)
    except Conflict as exc:
        hint = "" if reset else ": use --reset to replace it, or --if-empty to skip loading"
        raise click.UsageError(f"{exc.message}{hint}") from None
    click.echo(
        f"Demo city loaded (seed {summary.seed}, today {summary.today}): "
        f"{len(summary.agencies)} agencies, {summary.persons} insured persons, "
        f"{summary.caregivers} caregivers, {summary.volunteers} volunteers, "
        f"{summary.plans} care plans with {summary.plan_items} items, "
        f"{summary.service_items} service items."
    )
    print_logins(summary.logins)


@demo_group.command("logins")
def logins_command() -> None:
    """Print the logins that still have the demo password."""
    print_logins(demo_logins(db.session))


def print_logins(logins: Sequence[DemoLogin]) -> None:
    rows = [("username", "password", "role", "agency")]
    rows += [(x.username, x.password, x.role, x.agency_code or "-") for x in logins]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@demo_group.command("month")
@click.option("--month", callback=month_option, help="YYYY-MM; default: last calendar month.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the month.")
@click.option(
    "--agency", "agency_codes", multiple=True, help="Only this agency (its code); repeatable."
)
@click.option("--clean", is_flag=True, help="Inject no anomaly patterns.")
@click.option(
    "--if-empty", "if_empty", is_flag=True, help="Do nothing (exit 0) if the month has visits."
)
def month_command(
    month: dt.date, seed: int, agency_codes: tuple[str, ...], clean: bool, if_empty: bool
) -> None:
    """Simulate a past month of delivered, verified care in the demo city, with anomaly
    patterns injected into the first agency (see app/services/demo_month.py)."""
    if if_empty and month_has_visits(db.session, month):
        click.echo(f"{month:%Y-%m} already has visits: month not simulated.")
        return
    agency_ids = _agency_ids(agency_codes)
    started = time.monotonic()
    try:
        manifest = simulate_month(
            db.session, month=month, seed=seed, agency_ids=agency_ids, inject=not clean
        )
    except ServiceError as exc:
        raise click.UsageError(exc.message) from None
    print_manifest(manifest, time.monotonic() - started)


def _agency_ids(codes: Sequence[str]) -> list[int] | None:
    if not db.session.scalar(select(Agency.id).limit(1)):
        raise click.UsageError("no agencies: load the demo city first (flask demo load)")
    if not codes:
        return None
    found = dict(db.session.execute(select(Agency.code, Agency.id)).tuples().all())
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise click.BadParameter(f"no agency has the code {unknown[0]!r}", param_hint="'--agency'")
    return [found[code] for code in codes]


def print_manifest(m: MonthManifest, seconds: float) -> None:
    click.echo(
        f"Month {m.month:%Y-%m} simulated (seed {m.seed}, {len(m.agency_ids)} agencies) "
        f"in {seconds:.1f} s: {m.visits} visits, {m.verified} verified "
        f"({m.approved} after a dispatcher's approval), {m.cancelled} cancelled, "
        f"{m.missed} missed; {m.workers_created} phone logins made."
    )
    if not m.injected:
        click.echo("No anomaly patterns injected.")
        return
    click.echo(f"Anomaly patterns injected into agency {m.injected_agency_id}:")
    width = max(len(rule) for rule in m.injected)
    for rule, what in sorted(m.injected.items()):
        visits = ", ".join(str(v) for v in what.visit_ids[:8])
        more = f" (+{len(what.visit_ids) - 8})" if len(what.visit_ids) > 8 else ""
        click.echo(
            f"  {rule.ljust(width)}  caregivers {list(what.caregiver_ids)}, "
            f"persons {list(what.person_ids)}, visits {visits}{more}"
        )
