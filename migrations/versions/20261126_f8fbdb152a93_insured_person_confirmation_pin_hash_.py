"""insured_person.confirmation_pin_hash: the person's confirmation PIN, hashed

Revision ID: f8fbdb152a93
Revises: 8b6c07da6638
Create Date: 2026-11-26 00:52:54.557889

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f8fbdb152a93'
down_revision = '8b6c07da6638'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('insured_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmation_pin_hash', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('insured_person', schema=None) as batch_op:
        batch_op.drop_column('confirmation_pin_hash')
