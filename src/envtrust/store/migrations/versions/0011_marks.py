"""enterprise data marks (MEE 2022 No. 21) and their events

Revision ID: 0011
Revises: 0010

Insert-only tables, every row one ledger entry (issue 6, decision 0012 §7).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mn", sa.Text(), nullable=False),
        sa.Column("pollutants", sa.Text()),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("made_by", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("lag_s", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_data_marks_mn", "data_marks", ["mn", "start"])
    op.create_table(
        "mark_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mark_id", sa.Integer(), sa.ForeignKey("data_marks.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mark_events")
    op.drop_table("data_marks")
