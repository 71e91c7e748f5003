"""quality-assurance records: analysers, reference lots, zero/span/standard checks, comparisons, maintenance

Revision ID: 0009
Revises: 0008

Insert-only tables, every row one ledger entry (issue 6, decision 0012).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_criteria",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "analysers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mn", sa.Text(), nullable=False),
        sa.Column("pollutant", sa.Text(), nullable=False),
        sa.Column("serial_no", sa.Text(), nullable=False),
        sa.Column("maker", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("range_low", sa.Float(), nullable=False),
        sa.Column("range_high", sa.Float(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("s_ams", sa.Float()),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("analysers.id")),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_analysers_mn", "analysers", ["mn", "pollutant"])
    op.create_table(
        "reference_lots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("certificate_no", sa.Text(), nullable=False),
        sa.Column("lot_no", sa.Text(), nullable=False),
        sa.Column("material", sa.Text(), nullable=False),
        sa.Column("certified_value", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("uncertainty", sa.Text(), nullable=False),
        sa.Column("coverage_k", sa.Float(), nullable=False),
        sa.Column("expires_on", sa.Text(), nullable=False),
        sa.Column("certificate_sha256", sa.Text()),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("producer", "certificate_no", "lot_no", name="uq_reference_lots"),
    )
    op.create_table(
        "lot_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("reference_lots.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "qa_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("analyser_id", sa.Integer(), sa.ForeignKey("analysers.id"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("reference_lots.id")),
        sa.Column("reference_value", sa.Text(), nullable=False),
        sa.Column("reading", sa.Text(), nullable=False),
        sa.Column("reading_after", sa.Text()),
        sa.Column("adjusted", sa.Boolean(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("criteria_digest", sa.Text(), nullable=False),
        sa.Column("performed_by", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_qa_checks_analyser", "qa_checks", ["analyser_id", "started"])
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("analyser_id", sa.Integer(), sa.ForeignKey("analysers.id"), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.BigInteger(), nullable=False),
        sa.Column("pairs", sa.Text(), nullable=False),
        sa.Column("rm_source", sa.Text(), nullable=False),
        sa.Column("rm_mean", sa.Float(), nullable=False),
        sa.Column("cems_mean", sa.Float(), nullable=False),
        sa.Column("band", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("criteria_digest", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_comparisons_analyser", "comparisons", ["analyser_id", "started"])
    op.create_table(
        "maintenance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("analyser_id", sa.Integer(), sa.ForeignKey("analysers.id"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("ended", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("performed_by", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_maintenance_analyser", "maintenance", ["analyser_id", "started"])


def downgrade() -> None:
    op.drop_table("maintenance")
    op.drop_table("comparisons")
    op.drop_table("qa_checks")
    op.drop_table("lot_events")
    op.drop_table("reference_lots")
    op.drop_table("analysers")
    op.drop_table("qa_criteria")
