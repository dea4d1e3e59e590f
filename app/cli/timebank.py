"""``flask timebank``: audit the ledger, sweep redemption holds, the liability report."""

from __future__ import annotations

import datetime as dt
import sys

import click

from app.extensions import db
from app.services import timebank_hooks  # noqa: F401  (registers the verified-visit listener)
from app.services.errors import ServiceError
from app.services.timebank import expire_unspent, pledge, verify_ledger
from app.services.timebank_policy import load_timebank_policy
from app.services.timebank_redemption import sweep_holds
from timebank import liability_report

timebank_group = click.Group("timebank", help="The time bank's ledger.")


def _parse_now(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset (add +08:00 or Z)")
    return when


@timebank_group.command("verify")
def verify_command() -> None:
    """Recompute every hash chain and balance; exit 1 when anything disagrees."""
    options = {}
    if db.engine.dialect.name == "postgresql":
        # One snapshot for the whole read while writers keep going.
        options["isolation_level"] = "REPEATABLE READ"
    with db.engine.connect().execution_options(**options) as connection:
        report = verify_ledger(connection)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@timebank_group.command("expire-holds")
@click.option("--now", callback=_parse_now, help="Pretend it is this time (ISO 8601 with offset).")
def expire_holds_command(now: dt.datetime | None) -> None:
    """Void redemption holds past their timeout and those of cancelled or missed visits."""
    sweep = sweep_holds(db.session, now=now)
    click.echo(f"Voided {sweep.timed_out} expired hold(s), {sweep.closed_visits} of closed visits")


@timebank_group.command("expire-credits")
@click.option("--now", callback=_parse_now, help="Pretend it is this time (ISO 8601 with offset).")
def expire_credits_command(now: dt.datetime | None) -> None:
    """Apply the policy's optional expiry of unspent minutes (off by default)."""
    if load_timebank_policy().expiry_days is None:
        click.echo("The expiry rule is off (expiry_days: null in the policy file)")
        return
    click.echo(f"Expired the old minutes of {expire_unspent(db.session, now=now)} member(s)")


@timebank_group.command("liability")
def liability_command() -> None:
    """Minutes owed to members and the pool, against the sponsor's guarantee."""
    r = liability_report(db.session)
    db.session.rollback()
    click.echo(
        f"members {r.members}: {r.members_balance_min} min (held {r.members_held_min}); "
        f"pool {r.pool_min}; owed {r.owed_min}; guarantee {r.guarantee_min}; "
        f"uncovered {r.uncovered_min}; balanced {'yes' if r.balanced else 'NO'}"
    )


@timebank_group.command("pledge")
@click.option("--id", "pledge_id", required=True, help="The pledge's reference (idempotency key).")
@click.option("--minutes", type=click.IntRange(min=1), required=True, help="Minutes pledged.")
@click.option("--reason", required=True, help="The decision or budget line.")
def pledge_command(pledge_id: str, minutes: int, reason: str) -> None:
    """Record the sponsor's guarantee of MINUTES more minutes."""
    if not pledge_id.strip() or len(pledge_id) > 100:
        raise click.BadParameter("must have 1 to 100 characters", param_hint="'--id'")
    try:
        created = pledge(db.session, pledge_id=pledge_id, amount_min=minutes, reason=reason)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("Pledged" if created else "Already pledged (nothing changed)")
