"""complaints from the public and their handling

Revision ID: 0014
Revises: 0013

Insert-only, ledgered with sealed entries (the complainant and the content are not public), refusing UPDATE and
DELETE by trigger as the tables of revision 0013 do.
"""

import sqlalchemy as sa
from alembic import op

from envtrust.store.triggers import insert_only

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code_sha256", sa.Text(), nullable=False, unique=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("intake_by", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("lat", sa.Text()),
        sa.Column("lon", sa.Text()),
        sa.Column("mn", sa.Text()),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.Text(), nullable=False),
        sa.Column("contact_phone", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("accept_due", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
    )
    op.create_index("ix_complaints_region", "complaints", ["region"])
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("links", sa.Text(), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=False),
        sa.Column("due", sa.BigInteger()),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("salt", sa.Text(), nullable=False),
    )
    insert_only(("complaints", "complaint_events"))


def downgrade() -> None:
    op.drop_table("complaint_events")
    op.drop_table("complaints")
