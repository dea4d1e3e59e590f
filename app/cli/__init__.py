"""``flask`` command groups. Each command calls the same services as the web layer."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from app.cli.demo import demo_group
    from app.cli.i18n import i18n_group
    from app.cli.plan import plan_group
    from app.cli.settlement import settlement_group
    from app.cli.timebank import timebank_group
    from app.cli.visits import visits_group

    app.cli.add_command(demo_group)
    app.cli.add_command(i18n_group)
    app.cli.add_command(plan_group)
    app.cli.add_command(settlement_group)
    app.cli.add_command(timebank_group)
    app.cli.add_command(visits_group)
