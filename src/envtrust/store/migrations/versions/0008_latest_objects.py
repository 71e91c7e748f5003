"""point_latest entries as objects: {pollutant: {kind, time, value, zs, flag}} instead of [time, value, zs, flag]

Revision ID: 0008
Revises: 0007

The overview returns each newest reading as an object; storing it in that form lets it be returned as parsed,
without building a dictionary per channel on every request.  Existing rows are rewritten once.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KINDS = ("rtd", "minute", "hour", "day")


def _convert(kind: str, text: str | None, to_objects: bool) -> str | None:
    if not text:
        return text
    out: dict[str, object] = {}
    for code, entry in json.loads(text).items():
        if to_objects and isinstance(entry, list):
            t, value, zs, flag = entry
            out[code] = {"kind": kind, "time": t, "value": value, "zs": zs, "flag": flag}
        elif not to_objects and isinstance(entry, dict):
            out[code] = [entry["time"], entry["value"], entry["zs"], entry["flag"]]
        else:
            out[code] = entry
    return json.dumps(out, separators=(",", ":"))


def _rewrite(to_objects: bool) -> None:
    bind = op.get_bind()
    cols = ", ".join(KINDS)
    for mn, *texts in bind.execute(sa.text(f"SELECT mn, {cols} FROM point_latest")).all():
        values = {k: _convert(k, x, to_objects) for k, x in zip(KINDS, texts, strict=True)}
        sets = ", ".join(f"{k} = :{k}" for k in KINDS)
        bind.execute(sa.text(f"UPDATE point_latest SET {sets} WHERE mn = :mn"), {"mn": mn, **values})


def upgrade() -> None:
    _rewrite(to_objects=True)


def downgrade() -> None:
    _rewrite(to_objects=False)
