"""Merkle ledger replaces the hash chain: entries, perfect-subtree nodes, checkpoints, cosignatures

Revision ID: 0002
Revises: 0001

Frames stored before this revision are entered into the ledger here, in id order, by the same code that
ledgers new frames (so a database upgraded from the hash-chain version verifies like a new one).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", _ID, primary_key=True, autoincrement=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text()),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_ledger_entries_ref", "ledger_entries", ["ref"])
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_ledger_nodes"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", _ID, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "cosignatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_cosignatures_size", "cosignatures", ["size"])
    from envtrust.store.ledger import backfill_frames

    backfill_frames(op.get_bind())
    op.drop_table("chain")


def downgrade() -> None:
    op.create_table(
        "chain",
        sa.Column("seq", _ID, primary_key=True, autoincrement=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    for name in ("cosignatures", "checkpoints", "ledger_nodes", "ledger_entries"):
        op.drop_table(name)
