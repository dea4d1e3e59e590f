"""``flask visits``: generate a day's visits from approved care plans."""

from __future__ import annotations

import click

visits_group = click.Group("visits", help="Visits made from approved care plans.")
