"""personal signing keys and signatures; the laboratory chain: functions, samples, custody, analyses, reviews,
retractions, reports

Revision ID: 0010
Revises: 0009

Insert-only tables, every row one ledger entry (issue 6, decision 0012).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("vkey", sa.Text(), nullable=False),
        sa.Column("custody", sa.Text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary()),
        sa.Column("sealed_sha256", sa.Text()),
        sa.Column("active_from_us", sa.BigInteger(), nullable=False),
        sa.Column("registered_by", sa.Text(), nullable=False),
        sa.Column("pop", sa.Text()),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_person_keys_account", "person_keys", ["account_id"])
    op.create_table(
        "person_key_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("person_keys.id"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("person_keys.id"), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("act", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "lab_functions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("function", sa.Text(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sample_no", sa.Text(), nullable=False, unique=True),
        sa.Column("mn", sa.Text()),
        sa.Column("matrix", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("planned_by", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "custody_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sample_id", sa.Integer(), sa.ForeignKey("samples.id"), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("seal_no", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_custody_sample", "custody_events", ["sample_id"])
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sample_id", sa.Integer(), sa.ForeignKey("samples.id"), nullable=False),
        sa.Column("parameter", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("lot_ids", sa.Text(), nullable=False),
        sa.Column("raw_result", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("raw_file_sha256", sa.Text()),
        sa.Column("analysed_at", sa.BigInteger(), nullable=False),
        sa.Column("retest_of", sa.Integer(), sa.ForeignKey("analyses.id")),
        sa.Column("analyst", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_analyses_sample", "analyses", ["sample_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("analysis_id", sa.Integer(), sa.ForeignKey("analyses.id"), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_reviews_analysis", "reviews", ["analysis_id"])
    op.create_table(
        "retractions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("analysis_id", sa.Integer(), sa.ForeignKey("analyses.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_no", sa.Text(), nullable=False, unique=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("analysis_ids", sa.Text(), nullable=False),
        sa.Column("supersedes", sa.Integer(), sa.ForeignKey("reports.id")),
        sa.Column("pdf_sha256", sa.Text()),
        sa.Column("signatory", sa.Text(), nullable=False),
        sa.Column("sig_id", sa.Integer(), sa.ForeignKey("signatures.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_table("retractions")
    op.drop_table("reviews")
    op.drop_table("analyses")
    op.drop_table("custody_events")
    op.drop_table("samples")
    op.drop_table("lab_functions")
    op.drop_table("signatures")
    op.drop_table("person_key_events")
    op.drop_table("person_keys")
