"""``flask demo``: load the demo city and print its logins."""

from __future__ import annotations

from collections.abc import Sequence

import click

from app.extensions import db
from app.services.demo import DemoLogin, demo_logins, is_empty, load_demo
from app.services.errors import Conflict

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
