"""``flask settlement``: open agencies' monthly settlements and print their totals.

``open`` acts as the agency's admin (its first active agency-admin login), as the web page
would; a month already open is shown, not rebuilt.
"""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from app.cli.options import month_option
from app.cli.plan import pick_agencies
from app.extensions import db
from app.models import Agency, Role, Settlement, User
from app.services import settlement as svc
from app.services.claims import yuan
from app.services.errors import ServiceError

settlement_group = click.Group("settlement", help="Monthly LTCI settlements of the agencies.")


def _admin_of(agency: Agency) -> User:
    admin = db.session.scalar(
        select(User)
        .where(User.agency_id == agency.id, User.role == Role.AGENCY_ADMIN, User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    if admin is None:
        raise click.ClickException(f"agency {agency.code} has no active agency admin")
    return admin


def _line(s: Settlement, agency: Agency) -> str:
    return (
        f"{agency.code} {s.period:%Y-%m} {s.status} r{s.revision}: {s.line_count} lines, "
        f"fund {yuan(s.fund_fen)}, co-pay {yuan(s.copay_fen)}, rejected {yuan(s.rejected_fen)}"
    )


@settlement_group.command("open")
@click.option("--month", callback=month_option, help="YYYY-MM; default: last month.")
@click.option("--agency", "code", help="The agency's code.")
@click.option("--all-agencies", "every", is_flag=True, help="Every active agency.")
def open_command(month: dt.date, code: str | None, every: bool) -> None:
    """Open the month's settlement (a draft with its claim lines) and print its totals."""
    for agency in pick_agencies(code, every):
        try:
            found, created = svc.open_settlement(db.session, _admin_of(agency), month)
        except ServiceError as exc:
            db.session.rollback()
            raise click.ClickException(f"{agency.code}: {exc.message} {exc.errors}") from None
        click.echo(("opened " if created else "exists ") + _line(found, agency))
