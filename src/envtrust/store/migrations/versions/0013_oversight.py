"""oversight: attachments, the interference register, double-random draws and inspections

Revision ID: 0013
Revises: 0012

Insert-only tables, every row one ledger entry (issue 7, decision 0014), except ``draw_secrets`` (a draw's secret
until it is revealed).  The entries of confidential records (interference, attachments, and the signatures of
confidential acts: ``signatures.salt``) are sealed: the public ledger shows that they exist, not what they say.
On both backends the ledgered tables refuse UPDATE and DELETE by trigger: a record can only be changed by someone
who drops the trigger first, and ``envtrust verify`` then finds the change.
"""

import sqlalchemy as sa
from alembic import op

from envtrust.store.triggers import insert_only

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INSERT_ONLY = ("attachments", "interference", "interference_events", "draws", "draw_reveals", "inspections")


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
    )
    op.create_table(
        "interference",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("actor_name", sa.Text(), nullable=False),
        sa.Column("actor_role", sa.Text(), nullable=False),
        sa.Column("actor_org", sa.Text(), nullable=False),
        sa.Column("means", sa.Text(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("touches", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorder_role", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
    )
    op.create_index("ix_interference_region", "interference", ["region"])
    op.create_table(
        "interference_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("interference_id", sa.Integer(), sa.ForeignKey("interference.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("to_whom", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
    )
    op.create_table(
        "draws",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("target_kind", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("inspectors", sa.Text(), nullable=False),
        sa.Column("commitment", sa.Text(), nullable=False),
        sa.Column("beacon_source", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "draw_secrets",
        sa.Column("draw_id", sa.Integer(), sa.ForeignKey("draws.id"), primary_key=True),
        sa.Column("secret", sa.Text(), nullable=False),
    )
    op.create_table(
        "draw_reveals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("draw_id", sa.Integer(), sa.ForeignKey("draws.id"), nullable=False, unique=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("beacon_value", sa.Text(), nullable=False),
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("revealed_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("draw_id", sa.Integer(), sa.ForeignKey("draws.id")),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("inspectors", sa.Text(), nullable=False),
        sa.Column("inspected_at", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.add_column("signatures", sa.Column("salt", sa.Text()))  # confidential acts: a sealed entry
    insert_only(INSERT_ONLY)


def downgrade() -> None:
    bind = op.get_bind()
    for t in ("inspections", "draw_reveals", "draw_secrets", "draws", "interference_events", "interference",
              "attachments"):  # fmt: skip
        op.drop_table(t)  # its triggers go with it
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS envtrust_insert_only()")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("salt")
