"""timebank: tb_create_transfers, several lone posted transfers in one call (PostgreSQL)

The function comes from ``timebank.schema.batch_function_ddl`` for the database in use,
one statement per ``op.execute``; it hashes with ``tb_json_string`` (``e7d60f275c21``).
On SQLite there is nothing to create (the ledger writes in the client). No table changes.

Revision ID: cccee5076d8c
Revises: e7d60f275c21
Create Date: 2026-11-26 04:00:00.000000

"""
from alembic import op

from timebank.schema import batch_function_ddl, drop_batch_function_ddl


# revision identifiers, used by Alembic.
revision = 'cccee5076d8c'
down_revision = 'e7d60f275c21'
branch_labels = None
depends_on = None


def upgrade():
    for statement in batch_function_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in drop_batch_function_ddl(op.get_bind().dialect.name):
        op.execute(statement)
