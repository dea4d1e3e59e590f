"""``flask visits``: generate a day's visits from approved care plans."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from app.extensions import db
from app.models import Agency
from app.services.visits import generate_visits

visits_group = click.Group("visits", help="Visits made from approved care plans.")


def _parse_date(ctx: click.Context, param: click.Parameter, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@visits_group.command("generate")
@click.option("--date", "day", required=True, callback=_parse_date, help="The day, YYYY-MM-DD.")
@click.option("--agency", "agency_code", default=None, help="Only this agency's plans (its code).")
def generate_command(day: dt.date, agency_code: str | None) -> None:
    """Create, update or cancel the visits of DATE so they match the approved plans."""
    agency_id = None
    if agency_code is not None:
        agency_id = db.session.scalar(select(Agency.id).where(Agency.code == agency_code))
        if agency_id is None:
            raise click.BadParameter(
                f"no agency has the code {agency_code!r}", param_hint="'--agency'"
            )
    result = generate_visits(db.session, day, agency_id)
    scope = agency_code or "all agencies"
    click.echo(
        f"Visits of {day} ({scope}): created {result.created}, updated {result.updated}, "
        f"removed {result.removed}, unchanged {result.unchanged}"
    )
