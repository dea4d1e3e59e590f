"""Alembic environment, run by Flask-Migrate inside the application context."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from app.models.base import UTCDateTime
from timebank import metadata as timebank_metadata
from timebank.schema import UTCDateTime as LedgerUTCDateTime

config = context.config
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

migrate_ext = current_app.extensions["migrate"]
# The time bank's ledger tables are on timebank's own metadata; autogenerate must see both.
target_metadata = [migrate_ext.db.metadata, timebank_metadata]


def _skip_empty_autogenerate(context, revision, directives):
    # An autogenerate run that finds no change writes no empty revision file.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []


def _render_item(type_, obj, autogen_context):
    # Our UTC wrapper is an application type; revisions store its plain database type so
    # that they never import application code.
    if type_ == "type" and isinstance(obj, UTCDateTime | LedgerUTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=str(migrate_ext.db.engine.url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conf_args = dict(migrate_ext.configure_args)
    conf_args.setdefault("process_revision_directives", _skip_empty_autogenerate)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("render_item", _render_item)
    with migrate_ext.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
