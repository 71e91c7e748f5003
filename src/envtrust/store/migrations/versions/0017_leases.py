"""leases for cluster mode: partitions of the frame stream, the checkpoint sequencer, live workers

Revision ID: 0017
Revises: 0016

A lease is held by one process until it expires; every new holder gets a higher epoch, and writes made under a
lease name the epoch they were made under, so a holder that lost its lease can never write again (fencing).
``position`` is the stream sequence up to which a partition's frames are stored.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("holder", sa.Text()),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("info", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("leases")
