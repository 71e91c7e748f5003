"""quality-assurance records may be signed by the person who records them: a signature id on checks, comparisons
and maintenance

Revision ID: 0012
Revises: 0011

Existing rows keep no signature (null), and their ledger entries stay as they were: an entry names ``sig_id`` only
when there is one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("qa_checks", "comparisons", "maintenance")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("sig_id", sa.Integer()))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sig_id")
