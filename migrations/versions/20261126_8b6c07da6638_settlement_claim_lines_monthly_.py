"""settlement: monthly settlements per agency, their claim lines, steps and export log;
agency.city (which city's fund shares apply)

Revision ID: 8b6c07da6638
Revises: 27b79f2158f7
Create Date: 2026-11-26 00:35:57.365307

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b6c07da6638'
down_revision = '27b79f2158f7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('settlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('claimed_fen', sa.Integer(), nullable=False),
    sa.Column('fund_fen', sa.Integer(), nullable=False),
    sa.Column('copay_fen', sa.Integer(), nullable=False),
    sa.Column('rejected_fen', sa.Integer(), nullable=False),
    sa.Column('disallowed_fen', sa.Integer(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('payment_ref', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'approved', 'partly_rejected', 'resubmitted', 'reconciled')", name=op.f('ck_settlement_status_valid')),
    sa.CheckConstraint('fund_fen + copay_fen = claimed_fen', name=op.f('ck_settlement_totals_add_up')),
    sa.CheckConstraint('revision >= 0', name=op.f('ck_settlement_revision_nonneg')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_settlement_agency_id_agency')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_settlement_created_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement')),
    sa.UniqueConstraint('agency_id', 'period', name='uq_settlement_agency_period')
    )
    op.create_table('export_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("format IN ('csv', 'xlsx')", name=op.f('ck_export_log_format_valid')),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], name=op.f('fk_export_log_settlement_id_settlement')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_export_log_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_log'))
    )
    with op.batch_alter_table('export_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_log_settlement_id'), ['settlement_id'], unique=False)

    op.create_table('settlement_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('totals', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], name=op.f('fk_settlement_event_settlement_id_settlement')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_settlement_event_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_event'))
    )
    with op.batch_alter_table('settlement_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_event_settlement_id'), ['settlement_id'], unique=False)

    op.create_table('claim_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('caregiver_id', sa.Integer(), nullable=True),
    sa.Column('service_item_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=16), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('fund_share_pct', sa.Integer(), nullable=False),
    sa.Column('price_fen', sa.Integer(), nullable=False),
    sa.Column('fund_fen', sa.Integer(), nullable=False),
    sa.Column('copay_fen', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('review', sa.String(length=16), nullable=False),
    sa.Column('review_reason', sa.String(length=300), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("review IN ('pending', 'accepted', 'disallowed')", name=op.f('ck_claim_line_review_valid')),
    sa.CheckConstraint("status IN ('claimable', 'rejected')", name=op.f('ck_claim_line_status_valid')),
    sa.CheckConstraint('fund_fen + copay_fen = price_fen', name=op.f('ck_claim_line_split_adds_up')),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_claim_line_minutes_positive')),
    sa.CheckConstraint('price_fen >= 0', name=op.f('ck_claim_line_price_nonneg')),
    sa.ForeignKeyConstraint(['caregiver_id'], ['caregiver.id'], name=op.f('fk_claim_line_caregiver_id_caregiver')),
    sa.ForeignKeyConstraint(['person_id'], ['insured_person.id'], name=op.f('fk_claim_line_person_id_insured_person')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_claim_line_reviewed_by_id_user')),
    sa.ForeignKeyConstraint(['service_item_id'], ['service_item.id'], name=op.f('fk_claim_line_service_item_id_service_item')),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlement.id'], name=op.f('fk_claim_line_settlement_id_settlement')),
    sa.ForeignKeyConstraint(['verification_id'], ['visit_verification.id'], name=op.f('fk_claim_line_verification_id_visit_verification')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_claim_line_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_line')),
    sa.UniqueConstraint('settlement_id', 'visit_id', name='uq_claim_line_settlement_visit')
    )
    with op.batch_alter_table('claim_line', schema=None) as batch_op:
        batch_op.create_index('ix_claim_line_person_date', ['person_id', 'service_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_line_settlement_id'), ['settlement_id'], unique=False)

    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('city', sa.String(length=32), nullable=True))



def downgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('city')

    with op.batch_alter_table('claim_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_line_settlement_id'))
        batch_op.drop_index('ix_claim_line_person_date')

    op.drop_table('claim_line')
    with op.batch_alter_table('settlement_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_event_settlement_id'))

    op.drop_table('settlement_event')
    with op.batch_alter_table('export_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_log_settlement_id'))

    op.drop_table('export_log')
    op.drop_table('settlement')
