"""timebank: ledger tables tb_accounts, tb_transfers, tb_entries and their triggers

The tables are those of ``timebank.metadata``; the triggers (append-only transfers and
entries, balanced legs, account counters that only follow their newest entry) come from
``timebank.schema.trigger_ddl`` for the database in use, one statement per ``op.execute``.

Revision ID: 27b79f2158f7
Revises: 83dc870b9636
Create Date: 2026-11-25 23:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

from timebank.schema import drop_trigger_ddl, trigger_ddl


# revision identifiers, used by Alembic.
revision = '27b79f2158f7'
down_revision = '83dc870b9636'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tb_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ledger', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('owner_ref', sa.String(length=128), nullable=False),
    sa.Column('no_overdraft', sa.Boolean(), nullable=False),
    sa.Column('debits_pending_min', sa.BigInteger(), nullable=False),
    sa.Column('debits_posted_min', sa.BigInteger(), nullable=False),
    sa.Column('credits_pending_min', sa.BigInteger(), nullable=False),
    sa.Column('credits_posted_min', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('member', 'pool', 'issuance', 'guarantee')", name=op.f('ck_tb_accounts_kind')),
    sa.CheckConstraint('NOT no_overdraft OR debits_posted_min + debits_pending_min <= credits_posted_min', name=op.f('ck_tb_accounts_no_overdraft')),
    sa.CheckConstraint('debits_pending_min >= 0 AND debits_posted_min >= 0 AND credits_pending_min >= 0 AND credits_posted_min >= 0 AND version >= 0', name=op.f('ck_tb_accounts_counters_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tb_accounts')),
    sa.UniqueConstraint('ledger', 'kind', 'owner_ref', name=op.f('uq_tb_accounts_ledger'))
    )
    op.create_table('tb_transfers',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('ledger', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('debit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_min', sa.BigInteger(), nullable=False),
    sa.Column('pending_id', sa.String(length=128), nullable=True),
    sa.Column('timeout_s', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_data', sa.String(length=256), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reverses_id', sa.String(length=128), nullable=True),
    sa.Column('batch_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("(code = 'correction') = (reverses_id IS NOT NULL)", name=op.f('ck_tb_transfers_correction_iff_reverses')),
    sa.CheckConstraint("(kind IN ('post', 'void')) = (pending_id IS NOT NULL)", name=op.f('ck_tb_transfers_pending_id_iff_resolution')),
    sa.CheckConstraint("code <> 'correction' OR (reason IS NOT NULL AND reason <> '')", name=op.f('ck_tb_transfers_correction_reason')),
    sa.CheckConstraint("code IN ('service_credit', 'redemption', 'gift', 'donation', 'cap_overflow', 'pool_grant', 'pledge', 'correction', 'expiry')", name=op.f('ck_tb_transfers_code')),
    sa.CheckConstraint("kind IN ('single', 'pending', 'post', 'void')", name=op.f('ck_tb_transfers_kind')),
    sa.CheckConstraint("timeout_s IS NULL OR (kind = 'pending' AND timeout_s > 0)", name=op.f('ck_tb_transfers_timeout_on_pending')),
    sa.CheckConstraint('amount_min > 0', name=op.f('ck_tb_transfers_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_tb_transfers_distinct_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['tb_accounts.id'], name=op.f('fk_tb_transfers_credit_account_id_tb_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['tb_accounts.id'], name=op.f('fk_tb_transfers_debit_account_id_tb_accounts')),
    sa.ForeignKeyConstraint(['pending_id'], ['tb_transfers.id'], name=op.f('fk_tb_transfers_pending_id_tb_transfers')),
    sa.ForeignKeyConstraint(['reverses_id'], ['tb_transfers.id'], name=op.f('fk_tb_transfers_reverses_id_tb_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tb_transfers')),
    sa.UniqueConstraint('pending_id', name=op.f('uq_tb_transfers_pending_id')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_tb_transfers_reverses_id'))
    )
    op.create_index(op.f('ix_tb_transfers_created_at'), 'tb_transfers', ['created_at'], unique=False)
    op.create_index(op.f('ix_tb_transfers_expires_at'), 'tb_transfers', ['expires_at'], unique=False)
    op.create_index(op.f('ix_tb_transfers_user_data'), 'tb_transfers', ['user_data'], unique=False)
    op.create_table('tb_entries',
    sa.Column('transfer_id', sa.String(length=128), nullable=False),
    sa.Column('side', sa.String(length=6), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('posted_delta_min', sa.BigInteger(), nullable=False),
    sa.Column('pending_delta_min', sa.BigInteger(), nullable=False),
    sa.Column('balance_before_min', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_min', sa.BigInteger(), nullable=False),
    sa.Column('pending_before_min', sa.BigInteger(), nullable=False),
    sa.Column('pending_after_min', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("(side = 'debit' AND posted_delta_min <= 0) OR (side = 'credit' AND posted_delta_min >= 0)", name=op.f('ck_tb_entries_posted_sign')),
    sa.CheckConstraint("side IN ('debit', 'credit')", name=op.f('ck_tb_entries_side')),
    sa.CheckConstraint('balance_after_min = balance_before_min + posted_delta_min', name=op.f('ck_tb_entries_balance_follows')),
    sa.CheckConstraint('pending_after_min = pending_before_min + pending_delta_min', name=op.f('ck_tb_entries_pending_follows')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_tb_entries_version_positive')),
    sa.ForeignKeyConstraint(['account_id'], ['tb_accounts.id'], name=op.f('fk_tb_entries_account_id_tb_accounts')),
    sa.ForeignKeyConstraint(['transfer_id'], ['tb_transfers.id'], name=op.f('fk_tb_entries_transfer_id_tb_transfers')),
    sa.PrimaryKeyConstraint('transfer_id', 'side', name=op.f('pk_tb_entries')),
    sa.UniqueConstraint('account_id', 'version', name=op.f('uq_tb_entries_account_id'))
    )
    for statement in trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in drop_trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table('tb_entries')
    op.drop_index(op.f('ix_tb_transfers_user_data'), table_name='tb_transfers')
    op.drop_index(op.f('ix_tb_transfers_expires_at'), table_name='tb_transfers')
    op.drop_index(op.f('ix_tb_transfers_created_at'), table_name='tb_transfers')
    op.drop_table('tb_transfers')
    op.drop_table('tb_accounts')
