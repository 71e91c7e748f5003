"""Table definitions (SQLAlchemy Core), shared by both backends.  Migrations in ``migrations/`` create them.

Times are integers: ``data_time`` in UTC epoch seconds, ``received_us`` in UTC epoch microseconds — zone-free,
compact and fast on both SQLite and PostgreSQL (see docs/decisions/0003-storage.md).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

metadata = MetaData()

enterprises = Table(
    "enterprises",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("credit_code", Text),
    Column("industry", Text),
)

points = Table(
    "points",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mn", Text, nullable=False, unique=True),
    Column("enterprise_id", Integer, ForeignKey("enterprises.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("medium", Text, nullable=False),
    Column("reference_o2", Float),
    Column("pw", Text),
    Column("timezone", Text, nullable=False),
    Column("crc_compat", Text),
    Column("st", Text),
    Column("extra", Text, nullable=False, server_default="{}"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("updated_us", BigInteger, nullable=False),
)

limits = Table(
    "limits",
    metadata,
    Column("point_id", Integer, ForeignKey("points.id"), nullable=False),
    Column("pollutant", Text, nullable=False),
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("point_id", "pollutant", name="pk_limits"),
)

# every record received, byte-exact: HJ 212 frames (gateway or import) and CSV lines; valid or not
frames = Table(
    "frames",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_us", BigInteger, nullable=False),
    Column("peer", Text, nullable=False),
    Column("origin", Text, nullable=False),  # tcp | import
    Column("format", Text, nullable=False),  # hj212 | csv | garbage
    Column("raw", LargeBinary, nullable=False),
    Column("digest", LargeBinary, nullable=False),  # SHA-256 of the data segment (or of the CSV line)
    Column("mn", Text),
    Column("cn", Text),
    Column("qn", Text),
    Column("status", Text, nullable=False),  # ok | duplicate | quarantine
    Column("error_code", Text),
    Column("reason", Text),
    Column("version", Text),
    Column("crc_ok", Boolean),
    Column("crc_variant", Text),
    Column("warnings", Text),
    Column("duplicate_of", BigInteger),
    Index("ix_frames_digest", "digest"),
    Index("ix_frames_mn_received", "mn", "received_us"),
    Index("ix_frames_status", "status"),
)

readings = Table(
    "readings",
    metadata,
    Column("mn", Text, nullable=False),
    Column("kind", Text, nullable=False),  # rtd | minute | hour | day
    Column("pollutant", Text, nullable=False),  # HJ 212-2017 code
    Column("data_time", BigInteger, nullable=False),  # UTC epoch seconds (period start for aggregates)
    Column("frame_id", BigInteger, nullable=False),
    Column("code_raw", Text, nullable=False),
    Column("rtd", Float),
    Column("avg", Float),
    Column("min", Float),
    Column("max", Float),
    Column("cou", Float),
    Column("zs_rtd", Float),
    Column("zs_avg", Float),
    Column("zs_min", Float),
    Column("zs_max", Float),
    Column("flag", Text),
    Column("eflag", Text),
    Column("extra", Text),  # JSON of every other suffix and of non-numeric values, as sent
    PrimaryKeyConstraint("mn", "kind", "pollutant", "data_time", name="pk_readings"),
    Index("ix_readings_frame", "frame_id"),
    sqlite_with_rowid=False,  # clustered on the primary key: one B-tree less per row
)

# the Merkle ledger (RFC 9162 tree): every write of the system is one entry; only perfect subtrees are stored
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("idx", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("type", Text, nullable=False),
    Column("ref", Text),  # the row it records, "table/key" (e.g. frames/42, points/21010012345678)
    Column("entry", LargeBinary, nullable=False),  # RFC 8785 canonical JSON, the leaf's exact bytes
    Index("ix_ledger_entries_ref", "ref"),
)

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx", name="pk_ledger_nodes"),
    sqlite_with_rowid=False,
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the signed note (C2SP tlog-checkpoint), as published
    Column("created_us", BigInteger, nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("witness", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("note", Text, nullable=False),  # the checkpoint with the witness's cosignature line
    Column("received_us", BigInteger, nullable=False),
    Index("ix_cosignatures_size", "size"),
)

# corrections never overwrite: an amendment names the reading it amends, the new values, who, why and when
amendments = Table(
    "amendments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mn", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("pollutant", Text, nullable=False),
    Column("data_time", BigInteger, nullable=False),
    Column("frame_id", BigInteger),  # the frame that carried the amended reading
    Column("changes", Text, nullable=False),  # JSON: {"avg": 12.3, "flag": "M"} — the new values
    Column("who", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_amendments_reading", "mn", "kind", "pollutant", "data_time"),
)

# alarms: the current state of each alarm (a projection of its events); one open alarm per (point, pollutant, check)
alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mn", Text, nullable=False),
    Column("pollutant", Text, nullable=False),  # "" when the finding concerns the whole point
    Column("check_name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("state", Text, nullable=False),  # active | cleared
    Column("acked", Boolean, nullable=False),
    Column("closed", Boolean, nullable=False),  # cleared and acknowledged: history
    Column("assignee", Text),
    Column("start_time", BigInteger, nullable=False),  # data time, UTC epoch seconds
    Column("end_time", BigInteger, nullable=False),  # exclusive
    Column("message", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON: the newest finding's evidence
    Column("findings", Integer, nullable=False),  # findings folded into this alarm
    Column("escalation", Integer, nullable=False),
    Column("opened_us", BigInteger, nullable=False),
    Column(
        "raised_us", BigInteger, nullable=False
    ),  # when it last became active and unacknowledged (escalation)
    Column("updated_us", BigInteger, nullable=False),
    Index(
        "ux_alarms_open_key",
        "mn",
        "pollutant",
        "check_name",
        unique=True,
        sqlite_where=text("NOT closed"),
        postgresql_where=text("NOT closed"),
    ),
    Index("ix_alarms_closed_mn", "closed", "mn"),
)

# every change of an alarm, with the state after it; each row is one ledger entry (alarm.event)
alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alarm_id", Integer, ForeignKey("alarms.id"), nullable=False),
    Column("action", Text, nullable=False),  # open update reactivate clear ack assign comment escalate notify
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("acked", Boolean, nullable=False),
    Column("assignee", Text),
    Column("severity", Text, nullable=False),
    Column("escalation", Integer, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the finding, the comment, the reason or the delivery
    Index("ix_alarm_events_alarm", "alarm_id"),
)

# the check configuration in force (digest of the catalogue versions and parameters), ledgered when it changes
qc_configs = Table(
    "qc_configs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("config", Text, nullable=False),  # JSON: check -> {version, category, parameters}
    Column("who", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# people and machines that use the web pages and the API (issue 5); every change is an account event (ledgered)
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("role", Text, nullable=False),  # admin regulator enterprise operator lab inspector discipline
    Column(
        "region", Text
    ),  # administrative-division code prefix the account is scoped to (regulator, inspector …)
    Column("enterprise_id", Integer, ForeignKey("enterprises.id")),  # enterprise and operator accounts
    Column("password_hash", Text),  # argon2id, PHC string; never in the ledger
    Column("active", Boolean, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

account_events = Table(
    "account_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("action", Text, nullable=False),  # create update password disable enable token_create token_revoke
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("state", Text, nullable=False),  # JSON: the account after the change (no secrets)
    Column("detail", Text, nullable=False),  # JSON
    Index("ix_account_events_account", "account_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column(
        "token_hash", Text, nullable=False, unique=True
    ),  # SHA-256 of the token: the token itself is shown once
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger),
    Column("revoked_us", BigInteger),
    Column("last_used_us", BigInteger),
)

# every login attempt (for rate limiting and as an audit trail)
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False),
    Column("peer", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Index("ix_login_attempts_username_at", "username", "at_us"),
    Index("ix_login_attempts_peer_at", "peer", "at_us"),
)

# logged-in sessions of the web pages (and API clients that log in): only the SHA-256 of the session secret is kept
sessions = Table(
    "sessions",
    metadata,
    Column("secret_hash", Text, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column(
        "csrf", Text, nullable=False
    ),  # sent back in X-CSRF-Token with every change made through the session
    Column("peer", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("ended_us", BigInteger),  # logout
)

# derived tables (not ledgered: each is a function of the ledgered frames and readings, kept up to date in the same
# write transaction; `Store.derived_problems` recomputes them from scratch and compares)

# per MN: frames received (every status but quarantine: duplicates count) and the newest receive time; and per
# kind the newest reading of each pollutant as JSON {pollutant: {kind, time, value, zs, flag}} (time: data time,
# epoch s; value is the rtd value for kind rtd, else avg; zs likewise ZsRtd or ZsAvg) — as Store.overview returns
# them.  One row per point, rewritten by each write that
# concerns it: one row write per point and batch, not one per reading
point_latest = Table(
    "point_latest",
    metadata,
    Column("mn", Text, primary_key=True),
    Column("frames", BigInteger, nullable=False),
    Column("last_received_us", BigInteger),
    Column("rtd", Text),
    Column("minute", Text),
    Column("hour", Text),
    Column("day", Text),
)

# the columns of one channel's readings of one UTC day (day = data_time // 86400) before `upto`, packed
# (store/series.py): the whole day once it is over, today up to its newest reading; a write of a reading before a
# row's upto deletes it (so live data, after upto, leaves the rows alone; a late or back-filled reading does not)
series_cache = Table(
    "series_cache",
    metadata,
    Column("mn", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("day", Integer, nullable=False),
    Column("pollutant", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("upto", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("mn", "kind", "day", "pollutant", name="pk_series_cache"),
)

VALUE_COLUMNS = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "zs_min", "zs_max")
SUFFIX_COLUMNS = {
    "Rtd": "rtd",
    "Avg": "avg",
    "Min": "min",
    "Max": "max",
    "Cou": "cou",
    "ZsRtd": "zs_rtd",
    "ZsAvg": "zs_avg",
    "ZsMin": "zs_min",
    "ZsMax": "zs_max",
}
READING_COLUMNS = (
    "mn",
    "kind",
    "pollutant",
    "data_time",
    "frame_id",
    "code_raw",
    *VALUE_COLUMNS,
    "flag",
    "eflag",
    "extra",
)
FRAME_COLUMNS = (
    "received_us",
    "peer",
    "origin",
    "format",
    "raw",
    "digest",
    "mn",
    "cn",
    "qn",
    "status",
    "error_code",
    "reason",
    "version",
    "crc_ok",
    "crc_variant",
    "warnings",
    "duplicate_of",
)
