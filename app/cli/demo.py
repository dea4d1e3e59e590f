"""``flask demo``: load the demo city and print its logins."""

from __future__ import annotations

import click

demo_group = click.Group("demo", help="Load the demo city (a Nantong-like LTCI pilot).")
