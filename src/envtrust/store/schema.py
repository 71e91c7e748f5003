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
    UniqueConstraint,
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

# quality-assurance records (issue 6): insert-only, every row one ledger entry (``STATE_ENTRIES``); the state of a
# lot (withdrawn) or an analyser (replaced) is derived from later rows, never by updating one.  Times of events are
# UTC epoch seconds, intervals [started, ended); numbers people type are kept as the decimal text they typed.

# the acceptance criteria in force (qc.qa.Criteria), ledgered when they change
qa_criteria = Table(
    "qa_criteria",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("config", Text, nullable=False),  # JSON
    Column("who", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# an analyser (or measuring channel) of a point: one row per installed version; a replacement names its predecessor
analysers = Table(
    "analysers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mn", Text, nullable=False),
    Column("pollutant", Text, nullable=False),  # HJ 212 code the analyser measures
    Column("serial_no", Text, nullable=False),
    Column("maker", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("range_low", Float, nullable=False),
    Column("range_high", Float, nullable=False),  # full scale (F.S.) = high - low
    Column("unit", Text, nullable=False),
    Column("automatic", Boolean, nullable=False),  # calibrates itself (daily checks) or manually
    Column("profile", Text, nullable=False),  # criteria profile, e.g. hj75/so2
    Column("s_ams", Float),  # repeatability for the QAL3 CUSUM; null: the profile's default
    Column("valid_from", BigInteger, nullable=False),
    Column("replaces_id", Integer, ForeignKey("analysers.id")),
    Column("recorded_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_analysers_mn", "mn", "pollutant"),
)

# certified reference materials (有证标准物质): one row per lot
reference_lots = Table(
    "reference_lots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("producer", Text, nullable=False),
    Column("certificate_no", Text, nullable=False),  # e.g. GBW(E)080123
    Column("lot_no", Text, nullable=False),
    Column("material", Text, nullable=False),  # e.g. SO2/N2
    Column("certified_value", Text, nullable=False),  # decimal text as on the certificate
    Column("unit", Text, nullable=False),
    Column("uncertainty", Text, nullable=False),  # expanded uncertainty U, decimal text, same unit
    Column("coverage_k", Float, nullable=False),
    Column("expires_on", Text, nullable=False),  # ISO date; usable to the end of that day (Asia/Shanghai)
    Column("certificate_sha256", Text),  # of the scanned certificate, when given
    Column("recorded_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    UniqueConstraint("producer", "certificate_no", "lot_no", name="uq_reference_lots"),
)

lot_events = Table(
    "lot_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lot_id", Integer, ForeignKey("reference_lots.id"), nullable=False),
    Column("action", Text, nullable=False),  # withdraw
    Column("reason", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# zero / span checks of gas analysers, standard-sample checks of water analysers
qa_checks = Table(
    "qa_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("analyser_id", Integer, ForeignKey("analysers.id"), nullable=False),
    Column("kind", Text, nullable=False),  # zero span standard
    Column("started", BigInteger, nullable=False),
    Column("ended", BigInteger, nullable=False),
    Column("lot_id", Integer, ForeignKey("reference_lots.id")),
    Column("reference_value", Text, nullable=False),
    Column("reading", Text, nullable=False),
    Column("reading_after", Text),  # after adjustment, when adjusted
    Column("adjusted", Boolean, nullable=False),
    Column("automatic", Boolean, nullable=False),
    Column("value", Float, nullable=False),  # drift in % F.S., error in % or pH units
    Column("unit", Text, nullable=False),
    Column("verdict", Text, nullable=False),  # pass adjust fail
    Column("criteria_digest", Text, nullable=False),
    Column("performed_by", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("sig_id", Integer),  # the person's signature (signatures.id), when signed (revision 0012)
    Index("ix_qa_checks_analyser", "analyser_id", "started"),
)

# comparison with the reference method (参比方法比对 / 实际水样比对): the analyser's side computed from stored readings
comparisons = Table(
    "comparisons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("analyser_id", Integer, ForeignKey("analysers.id"), nullable=False),
    Column("started", BigInteger, nullable=False),
    Column("ended", BigInteger, nullable=False),
    Column("pairs", Text, nullable=False),  # JSON [{start, end, rm, cems, readings}]
    Column("rm_source", Text, nullable=False),  # the reference-method report
    Column("rm_mean", Float, nullable=False),
    Column("cems_mean", Float, nullable=False),
    Column("band", Text, nullable=False),
    Column("metric", Text, nullable=False),  # ra relative absolute
    Column("value", Float, nullable=False),
    Column("limit_value", Float, nullable=False),
    Column("verdict", Text, nullable=False),  # pass fail
    Column("criteria_digest", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("sig_id", Integer),  # the person's signature (signatures.id), when signed (revision 0012)
    Index("ix_comparisons_analyser", "analyser_id", "started"),
)

maintenance = Table(
    "maintenance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("analyser_id", Integer, ForeignKey("analysers.id"), nullable=False),
    Column("kind", Text, nullable=False),  # maintenance repair fault parameter_change verification
    Column("started", BigInteger, nullable=False),
    Column("ended", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: parameters before/after, certificate no., valid until …
    Column("performed_by", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("sig_id", Integer),  # the person's signature (signatures.id), when signed (revision 0012)
    Index("ix_maintenance_analyser", "analyser_id", "started"),
)

# personal signing keys and signatures (issue 6, decision 0012 §5): insert-only, ledgered
person_keys = Table(
    "person_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column(
        "key_hash", Text, nullable=False
    ),  # C2SP key ID (8 hex digits) of the note key name and public key
    Column("vkey", Text, nullable=False),  # the verifier key (public)
    Column("custody", Text, nullable=False),  # person (held by the person) or sealed (by the server)
    Column("sealed", LargeBinary),  # sealed seed (custody sealed); never in the ledger, its SHA-256 is
    Column("sealed_sha256", Text),
    Column("active_from_us", BigInteger, nullable=False),
    Column("registered_by", Text, nullable=False),
    Column("pop", Text),  # proof of possession: a statement signed by the key (custody person)
    Column("at_us", BigInteger, nullable=False),
    Index("ix_person_keys_account", "account_id"),
)

person_key_events = Table(
    "person_key_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", Integer, ForeignKey("person_keys.id"), nullable=False),
    Column("action", Text, nullable=False),  # revoke
    Column("reason", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

signatures = Table(
    "signatures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("key_id", Integer, ForeignKey("person_keys.id"), nullable=False),
    Column("role", Text, nullable=False),
    Column("act", Text, nullable=False),  # the entry type signed for
    Column("note", Text, nullable=False),  # the signed note: statement text and signature line
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text),  # confidential acts only (revision 0013): the entry is sealed (ledger.entries)
)

# the laboratory chain: functions of people, samples, custody, analyses, reviews, retractions, reports
lab_functions = Table(
    "lab_functions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("function", Text, nullable=False),  # sampler receiver analyst reviewer signatory
    Column("granted", Boolean, nullable=False),  # false: revoked
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

samples = Table(
    "samples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sample_no", Text, nullable=False, unique=True),
    Column("mn", Text),  # the point sampled, when a point
    Column("matrix", Text, nullable=False),  # e.g. waste water, flue gas
    Column("purpose", Text, nullable=False),  # comparison supervisory self
    Column("planned_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

custody_events = Table(
    "custody_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sample_id", Integer, ForeignKey("samples.id"), nullable=False),
    Column("step", Text, nullable=False),  # sampled transported received rejected
    Column("at", BigInteger, nullable=False),
    Column("place", Text, nullable=False),
    Column("condition", Text, nullable=False),
    Column("seal_no", Text, nullable=False),
    Column("by", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_custody_sample", "sample_id"),
)

analyses = Table(
    "analyses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sample_id", Integer, ForeignKey("samples.id"), nullable=False),
    Column("parameter", Text, nullable=False),  # HJ 212 code
    Column("method", Text, nullable=False),  # e.g. HJ 828-2017
    Column("instrument", Text, nullable=False),
    Column("lot_ids", Text, nullable=False),  # JSON list of reference lots used
    Column("raw_result", Text, nullable=False),  # decimal text as read
    Column("unit", Text, nullable=False),
    Column("raw_file_sha256", Text),
    Column("analysed_at", BigInteger, nullable=False),
    Column("retest_of", Integer, ForeignKey("analyses.id")),
    Column("analyst", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_analyses_sample", "sample_id"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("analysis_id", Integer, ForeignKey("analyses.id"), nullable=False),
    Column("decision", Text, nullable=False),  # approve reject
    Column("comment", Text, nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_reviews_analysis", "analysis_id"),
)

retractions = Table(
    "retractions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("analysis_id", Integer, ForeignKey("analyses.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("by", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_no", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("analysis_ids", Text, nullable=False),  # JSON
    Column("supersedes", Integer, ForeignKey("reports.id")),
    Column("pdf_sha256", Text),
    Column("signatory", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# enterprise data marks (MEE 2022 No. 21) and what happened to them: insert-only, ledgered
data_marks = Table(
    "data_marks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mn", Text, nullable=False),
    Column("pollutants", Text),  # JSON list of HJ 212 codes; null: every channel
    Column(
        "code", Text, nullable=False
    ),  # stopped startup_shutdown maintenance calibration fault comm_failure
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("made_by", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("lag_s", BigInteger, nullable=False),  # made this long after the marked span began
    Column("at_us", BigInteger, nullable=False),
    Index("ix_data_marks_mn", "mn", "start"),
)

mark_events = Table(
    "mark_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mark_id", Integer, ForeignKey("data_marks.id"), nullable=False),
    Column("action", Text, nullable=False),  # uphold reject withdraw
    Column("reason", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# oversight (issue 7): insert-only, every row one ledger entry; the state of a record is its events
# files attached to records (interference, complaints, cases): the entry carries the SHA-256, not the bytes
attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),  # never in the ledger; `envtrust verify` checks its SHA-256
    Column("uploaded_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),  # the entry is sealed: its name and uploader are not public
)

# the interference register (干预留痕, clause 六)
interference = Table(
    "interference",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "region", Text, nullable=False
    ),  # division code of the office whose monitoring was interfered with
    Column("occurred_at", BigInteger, nullable=False),
    Column("actor_name", Text, nullable=False),  # who interfered
    Column("actor_role", Text, nullable=False),  # in what position
    Column("actor_org", Text, nullable=False),
    Column("means", Text, nullable=False),  # written_instruction letter spoken hint other
    Column("request", Text, nullable=False),  # what was asked
    Column(
        "touches", Text, nullable=False
    ),  # JSON {mns: [...], stations: [...], records: [...], other: text}
    Column("attachments", Text, nullable=False),  # JSON [{id, sha256, name, media_type, size}]
    Column("recorded_by", Text, nullable=False),
    Column("recorder_role", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),  # the entry shows id, region and time; the rest is sealed
    Index("ix_interference_region", "region"),
)

interference_events = Table(
    "interference_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("interference_id", Integer, ForeignKey("interference.id"), nullable=False),
    Column("action", Text, nullable=False),  # reported received investigating concluded comment
    Column("to_whom", Text, nullable=False),  # the body it was reported to (reported), else ""
    Column("note", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),
)

# double-random draws (双随机, clause 十三): the creation (pool, rules, commitment) is ledgered before the reveal
draws = Table(
    "draws",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("target_kind", Text, nullable=False),  # point enterprise institution
    Column("region", Text, nullable=False),  # the drawing office's scope (division-code prefix)
    Column("rules", Text, nullable=False),  # JSON
    Column("targets", Text, nullable=False),  # JSON pool with weights, exclusions and their reasons
    Column("inspectors", Text, nullable=False),  # JSON pool
    Column("commitment", Text, nullable=False),  # SHA-256 of the secret, hex
    Column("beacon_source", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

draw_secrets = Table(  # not ledgered: the secret until its reveal (then it is in the reveal's entry)
    "draw_secrets",
    metadata,
    Column("draw_id", Integer, ForeignKey("draws.id"), primary_key=True),
    Column("secret", Text, nullable=False),
)

draw_reveals = Table(
    "draw_reveals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("draw_id", Integer, ForeignKey("draws.id"), nullable=False, unique=True),
    Column("secret", Text, nullable=False),
    Column("beacon_value", Text, nullable=False),
    Column("seed", Text, nullable=False),
    Column("selection", Text, nullable=False),  # JSON
    Column("revealed_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

inspections = Table(
    "inspections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("draw_id", Integer, ForeignKey("draws.id")),  # null: an inspection outside a draw
    Column("target", Text, nullable=False),  # the drawn target id (an MN, a credit code, an institution)
    Column("region", Text, nullable=False),
    Column("inspectors", Text, nullable=False),  # JSON list of user names
    Column("inspected_at", BigInteger, nullable=False),
    Column("outcome", Text, nullable=False),  # compliant problems fraud
    Column("summary", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON list of record refs (alarms/…, frames/…, qa_checks/…)
    Column("recorded_by", Text, nullable=False),
    Column("sig_id", Integer, ForeignKey("signatures.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# complaints from the public (clause 十六): sealed entries (the complainant and the content are not public)
complaints = Table(
    "complaints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code_sha256", Text, nullable=False, unique=True),  # of the tracking code the complainant keeps
    Column("channel", Text, nullable=False),  # web phone wechat letter visit
    Column("intake_by", Text, nullable=False),  # the staff account that took it ("" for the public web form)
    Column("region", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("lat", Text),  # decimal degrees as written
    Column("lon", Text),
    Column("mn", Text),  # the point it concerns, when known
    Column("subject", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("contact_name", Text, nullable=False),  # may be empty: anonymous
    Column("contact_phone", Text, nullable=False),
    Column("attachments", Text, nullable=False),  # JSON [{id, sha256, name, media_type, size}]
    Column("accept_due", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),
    Index("ix_complaints_region", "region"),
)

complaint_events = Table(
    "complaint_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("complaint_id", Integer, ForeignKey("complaints.id"), nullable=False),
    Column("action", Text, nullable=False),  # accepted assigned linked replied resolved rejected comment
    Column("note", Text, nullable=False),  # internal
    Column("reply", Text, nullable=False),  # what the complainant reads with the code
    Column("links", Text, nullable=False),  # JSON list of record references
    Column("assignee", Text, nullable=False),
    Column("due", BigInteger),  # the resolution deadline set by accepting
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),
)

# credit, blacklist and rectification orders (clauses 九, 十五): public records, clear entries
credit_events = Table(
    "credit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject_kind", Text, nullable=False),  # enterprise institution operator supplier
    Column(
        "subject_id", Text, nullable=False
    ),  # unified social credit code (or the name, when none is known)
    Column("subject_name", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("kind", Text, nullable=False),  # negative positive
    Column("points", Integer, nullable=False),  # the score change (negative for a negative event)
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON list of record references
    Column("decision", Text, nullable=False),  # the decision document's number (决定书文号)
    Column("decided_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_credit_events_subject", "subject_id"),
)

blacklist = Table(
    "blacklist",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject_kind", Text, nullable=False),
    Column("subject_id", Text, nullable=False),
    Column("subject_name", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON
    Column("decision", Text, nullable=False),
    Column("starts", BigInteger, nullable=False),  # local midnight of the first day listed
    Column("ends", BigInteger, nullable=False),  # local midnight after the last day
    Column("listed_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

blacklist_events = Table(
    "blacklist_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blacklist_id", Integer, ForeignKey("blacklist.id"), nullable=False),
    Column("action", Text, nullable=False),  # appealed appeal_upheld appeal_rejected repaired
    Column("note", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

orders = Table(  # orders to rectify (责令改正) and their rechecks: the basis of continuous daily penalties
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_no", Text, nullable=False),
    Column("enterprise", Text, nullable=False),  # credit code or name
    Column("mns", Text, nullable=False),  # JSON list of the points concerned
    Column("region", Text, nullable=False),
    Column("violation", Text, nullable=False),  # what is to be corrected
    Column("evidence", Text, nullable=False),  # JSON list of record references (alarms, inspections …)
    Column("served_on", Text, nullable=False),  # the local date the order was served (YYYY-MM-DD)
    Column("issued_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

order_rechecks = Table(
    "order_rechecks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("rechecked_on", Text, nullable=False),  # local date (YYYY-MM-DD)
    Column("result", Text, nullable=False),  # continued rectified
    Column("note", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# fraud cases transferred to the police (clause 八): sealed entries while the case is open to investigation
cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_no", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("enterprise", Text, nullable=False),
    Column("mns", Text, nullable=False),  # JSON list of the points concerned
    Column("region", Text, nullable=False),
    Column("period_start", BigInteger, nullable=False),  # the data concerned, [start, end)
    Column("period_end", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON list of record references
    Column("opened_by", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),
)

case_documents = Table(
    "case_documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column(
        "kind", Text, nullable=False
    ),  # transfer_letter investigation_report site_record evidence_list other
    Column("title", Text, nullable=False),
    Column("attachment_id", Integer, ForeignKey("attachments.id"), nullable=False),
    Column("who", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("salt", Text, nullable=False),
)

leases = Table(  # cluster mode: who holds a partition or the sequencer role, under which epoch
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),  # partitions: stream sequence stored up to
    Column("info", Text),
)

upstreams = Table(  # upstream forwarding: the frames table is the outbox, this row the position per upstream
    "upstreams",
    metadata,
    Column("name", Text, primary_key=True),
    Column("address", Text, nullable=False),
    Column(
        "acked_upto", BigInteger, nullable=False
    ),  # frames up to this id acknowledged (or refused for good)
    Column("acked_us", BigInteger),
    Column("sent", BigInteger, nullable=False),
    Column("acks", BigInteger, nullable=False),
    Column("refused", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("error_us", BigInteger),
    Column("updated_us", BigInteger, nullable=False),
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
