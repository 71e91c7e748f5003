"""derived tables: each point's frame count and newest readings, and the columnar cache of completed days

Revision ID: 0007
Revises: 0006

``point_latest`` is back-filled from the frames and readings already stored (one GROUP BY each, once); from
then on ``Store.write`` keeps it up to date in its own transaction.  ``series_cache`` starts empty: it fills
as series are read.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KINDS = ("rtd", "minute", "hour", "day")


def upgrade() -> None:
    op.create_table(
        "point_latest",
        sa.Column("mn", sa.Text(), primary_key=True),
        sa.Column("frames", sa.BigInteger(), nullable=False),
        sa.Column("last_received_us", sa.BigInteger()),
        sa.Column("rtd", sa.Text()),
        sa.Column("minute", sa.Text()),
        sa.Column("hour", sa.Text()),
        sa.Column("day", sa.Text()),
    )
    op.create_table(
        "series_cache",
        sa.Column("mn", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("pollutant", sa.Text(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("upto", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("mn", "kind", "day", "pollutant", name="pk_series_cache"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # every write rewrites its points' rows: room for HOT updates
        op.execute("ALTER TABLE point_latest SET (fillfactor = 50)")
        # packed numbers hardly compress, and decompressing them would cost more than reading them
        op.execute("ALTER TABLE series_cache ALTER COLUMN data SET STORAGE EXTERNAL")
    rows: dict[str, dict[str, object]] = {}
    for mn, n, last in bind.execute(
        sa.text(
            "SELECT mn, count(*), max(received_us) FROM frames "
            "WHERE status != 'quarantine' AND mn IS NOT NULL GROUP BY mn"
        )
    ):
        rows[mn] = {"mn": mn, "frames": int(n), "last_received_us": int(last)}
    newest: dict[str, dict[str, dict[str, list[object]]]] = {}
    for mn, kind, code, t, value, zs, flag in bind.execute(
        sa.text(
            "SELECT r.mn, r.kind, r.pollutant, r.data_time, "
            "CASE WHEN r.kind = 'rtd' THEN r.rtd ELSE r.avg END, "
            "CASE WHEN r.kind = 'rtd' THEN r.zs_rtd ELSE r.zs_avg END, r.flag "
            "FROM readings r JOIN ("
            "SELECT mn, kind, pollutant, max(data_time) AS t FROM readings GROUP BY mn, kind, pollutant"
            ") m ON r.mn = m.mn AND r.kind = m.kind AND r.pollutant = m.pollutant AND r.data_time = m.t"
        )
    ):
        if kind in KINDS:
            newest.setdefault(mn, {}).setdefault(kind, {})[code] = [int(t), value, zs, flag]
    for mn, kinds in newest.items():
        row = rows.setdefault(mn, {"mn": mn, "frames": 0, "last_received_us": None})
        for kind, channels in kinds.items():
            row[kind] = json.dumps(channels, separators=(",", ":"), ensure_ascii=False)
    if rows:
        table = sa.table(
            "point_latest",
            *(sa.column(c) for c in ("mn", "frames", "last_received_us", *KINDS)),
        )
        op.bulk_insert(
            table,
            [{k: r.get(k) for k in ("mn", "frames", "last_received_us", *KINDS)} for r in rows.values()],
        )


def downgrade() -> None:
    op.drop_table("series_cache")
    op.drop_table("point_latest")
