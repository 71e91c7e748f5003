"""upstream forwarding: per upstream platform, how far the accepted frames have been delivered and acknowledged

Revision ID: 0018
Revises: 0017

The frames table is the outbox: frames are forwarded in id order and ``acked_upto`` is the id up to which the
upstream has acknowledged everything (or refused it for good), so a restart or an upstream that was down resumes
there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstreams",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("acked_upto", sa.BigInteger(), nullable=False),
        sa.Column("acked_us", sa.BigInteger()),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("acks", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("error_us", sa.BigInteger()),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("upstreams")
