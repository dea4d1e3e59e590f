"""timebank: tb_create_transfer, a lone posted transfer written in one round trip (PostgreSQL)

The functions (``tb_create_transfer`` and its JSON helper ``tb_json_string``) come from
``timebank.schema.server_function_ddl`` for the database in use, one statement per
``op.execute``; on SQLite there is nothing to create (the ledger writes in the client).
No table changes.

Revision ID: e7d60f275c21
Revises: f8fbdb152a93
Create Date: 2026-11-26 01:05:00.000000

"""
from alembic import op

from timebank.schema import drop_server_function_ddl, server_function_ddl


# revision identifiers, used by Alembic.
revision = 'e7d60f275c21'
down_revision = 'f8fbdb152a93'
branch_labels = None
depends_on = None


def upgrade():
    for statement in server_function_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in drop_server_function_ddl(op.get_bind().dialect.name):
        op.execute(statement)
