"""amendments of readings (corrections never overwrite)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "amendments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mn", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("pollutant", sa.Text(), nullable=False),
        sa.Column("data_time", sa.BigInteger(), nullable=False),
        sa.Column("frame_id", sa.BigInteger()),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_amendments_reading", "amendments", ["mn", "kind", "pollutant", "data_time"])


def downgrade() -> None:
    op.drop_table("amendments")
