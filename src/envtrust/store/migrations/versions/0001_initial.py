"""initial schema: registry, frames, readings, hash chain

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("credit_code", sa.Text()),
        sa.Column("industry", sa.Text()),
    )
    op.create_table(
        "points",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mn", sa.Text(), nullable=False, unique=True),
        sa.Column("enterprise_id", sa.Integer(), sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("medium", sa.Text(), nullable=False),
        sa.Column("reference_o2", sa.Float()),
        sa.Column("pw", sa.Text()),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("crc_compat", sa.Text()),
        sa.Column("st", sa.Text()),
        sa.Column("extra", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "limits",
        sa.Column("point_id", sa.Integer(), sa.ForeignKey("points.id"), nullable=False),
        sa.Column("pollutant", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("point_id", "pollutant", name="pk_limits"),
    )
    op.create_table(
        "frames",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("peer", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("mn", sa.Text()),
        sa.Column("cn", sa.Text()),
        sa.Column("qn", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("version", sa.Text()),
        sa.Column("crc_ok", sa.Boolean()),
        sa.Column("crc_variant", sa.Text()),
        sa.Column("warnings", sa.Text()),
        sa.Column("duplicate_of", sa.BigInteger()),
    )
    op.create_index("ix_frames_digest", "frames", ["digest"])
    op.create_index("ix_frames_mn_received", "frames", ["mn", "received_us"])
    op.create_index("ix_frames_status", "frames", ["status"])
    op.create_table(
        "readings",
        sa.Column("mn", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("pollutant", sa.Text(), nullable=False),
        sa.Column("data_time", sa.BigInteger(), nullable=False),
        sa.Column("frame_id", sa.BigInteger(), nullable=False),
        sa.Column("code_raw", sa.Text(), nullable=False),
        *(
            sa.Column(c, sa.Float())
            for c in ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "zs_min", "zs_max")
        ),
        sa.Column("flag", sa.Text()),
        sa.Column("eflag", sa.Text()),
        sa.Column("extra", sa.Text()),
        sa.PrimaryKeyConstraint("mn", "kind", "pollutant", "data_time", name="pk_readings"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_readings_frame", "readings", ["frame_id"])
    op.create_table(
        "chain",
        sa.Column("seq", _ID, primary_key=True, autoincrement=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    for name in ("chain", "readings", "frames", "limits", "points", "enterprises"):
        op.drop_table(name)
