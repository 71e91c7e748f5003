"""credit events, the blacklist with appeals and repair, orders to rectify and their rechecks

Revision ID: 0015
Revises: 0014

Insert-only, ledgered in clear (public records: clause 十五 has them published), refusing UPDATE and DELETE by
trigger.
"""

import sqlalchemy as sa
from alembic import op

from envtrust.store.triggers import insert_only

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("credit_events", "blacklist", "blacklist_events", "orders", "order_rechecks")


def upgrade() -> None:
    op.create_table(
        "credit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("subject_name", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_credit_events_subject", "credit_events", ["subject_id"])
    op.create_table(
        "blacklist",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("subject_name", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("starts", sa.BigInteger(), nullable=False),
        sa.Column("ends", sa.BigInteger(), nullable=False),
        sa.Column("listed_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "blacklist_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("blacklist_id", sa.Integer(), sa.ForeignKey("blacklist.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_no", sa.Text(), nullable=False),
        sa.Column("enterprise", sa.Text(), nullable=False),
        sa.Column("mns", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("violation", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("served_on", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "order_rechecks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("rechecked_on", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    insert_only(TABLES)


def downgrade() -> None:
    for t in reversed(TABLES):
        op.drop_table(t)
