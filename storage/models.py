"""The record store's tables.

One `record` table holds all four kinds: a report reads one entity's records across kinds
and domains in a single indexed range scan, and the kind-specific 双公示 fields live in
`fields` (JSON), which the report renders but never filters on. Corrections never overwrite
silently: the previous state of a row is copied to `record_version` first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Entity(SQLModel, table=True):
    """A business (or institution) that can ask for a report.

    The legal representative's ID number is kept only as keyed hashes (whole number and last
    six characters, which the identity dialog asks for) plus its last four characters.
    """

    uscc: str = Field(primary_key=True, max_length=18)
    name: str
    entity_type: str = Field(max_length=16)
    legal_rep: str
    legal_rep_id_hash: str = Field(max_length=64)
    legal_rep_id_tail_hash: str = Field(max_length=64)
    legal_rep_id_last4: str = Field(max_length=4)
    phone: str = Field(max_length=20)
    address: str = ""
    registered_on: date | None = None
    registration_authority: str = ""
    false_commitment: bool = False
    created_at: datetime
    updated_at: datetime


class Record(SQLModel, table=True):
    """One violation record of any kind, keyed by its source department and document number."""

    __table_args__ = (
        UniqueConstraint("kind", "source_dept", "doc_no", name="uq_record_source_doc"),
        Index("ix_record_lookup", "uscc", "domain", "decision_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    uscc: str = Field(max_length=18)
    domain: int
    doc_no: str
    source_dept: str
    source_dept_uscc: str = Field(default="", max_length=18)
    decision_date: date
    end_date: date | None = None
    status: str = Field(max_length=8)
    procedure: str | None = Field(default=None, max_length=8)
    repair_status: str = Field(max_length=8)
    repair_date: date | None = None
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_at: datetime
    updated_at: datetime


class RecordVersion(SQLModel, table=True):
    """The state a record had before a correction, so that nothing is overwritten silently."""

    __tablename__ = "record_version"

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="record.id", index=True)
    version: int
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    replaced_at: datetime
    replaced_by: str = ""


class Department(SQLModel, table=True):
    """A data-source unit that feeds records through the API; only its key's hash is kept.

    The name (and, when given, the USCC) is the 数据来源单位 every record written with the key
    carries, whatever the request body says.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    uscc: str = Field(default="", max_length=18)
    domains: str  # comma-separated domain numbers it may write in
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    active: bool = True


class IntakeAudit(SQLModel, table=True):
    """Append-only trail of writes to the record store (triggers refuse UPDATE and DELETE).

    The API leaves one row per record written; a CSV import one row per batch (file, operator,
    counts) plus one per correction. `before`/`after` hold the record's content around the write.
    """

    __tablename__ = "intake_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    channel: str = Field(max_length=8)  # "api" or "csv"
    department_id: int | None = Field(default=None, foreign_key="department.id")
    actor: str  # the department's name, or "operator:<login>" for the platform operator's import
    unit: str = ""  # the 数据来源单位 written (empty for a CSV batch, whose units are in `after`)
    action: str = Field(max_length=16)  # insert, update, correct_domain, import_batch
    record_kind: str = Field(default="", max_length=16)
    record_key: str = ""  # the document number (entities: the USCC)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class IssuedReport(SQLModel, table=True):
    """An issued report: immutable once written, so a bank can verify it years later."""

    __tablename__ = "issued_report"
    __table_args__ = (UniqueConstraint("request_id", name="uq_issued_report_request_id"),)

    report_no: str = Field(primary_key=True, max_length=32)
    verify_code: str = Field(max_length=8)
    uscc: str = Field(max_length=18, index=True)
    entity_name: str
    period_start: date
    period_end: date
    domains: list[int] = Field(sa_column=Column(JSON, nullable=False))
    issued_at: datetime
    content_json: str = Field(sa_column=Column(Text, nullable=False))
    signature: str
    key_id: str = Field(max_length=32)
    pdf_sha256: str = Field(max_length=64)
    pdf_path: str
    user_id: str | None = Field(default=None, index=True)
    channel: str = Field(default="", max_length=16)
    #: The client's idempotency key (one chat confirmation): a retry after a crash finds this
    #: row instead of issuing a second report.
    request_id: str | None = Field(default=None, max_length=64)


class ReportSequence(SQLModel, table=True):
    """Per-day counter behind report numbers; a row lock makes numbers unique across processes."""

    __tablename__ = "report_sequence"

    day: str = Field(primary_key=True, max_length=8)
    last: int = 0


class Conversation(SQLModel, table=True):
    """One user's dialog state, saved after every message so a restart loses nothing."""

    user_id: str = Field(primary_key=True, max_length=128)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 0
    updated_at: datetime


class ProcessedMessage(SQLModel, table=True):
    """Replies already given to an inbound message id: a redelivery gets them again, no second action."""

    __tablename__ = "processed_message"
    __table_args__ = (UniqueConstraint("user_id", "msg_id", name="uq_processed_message"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=128)
    msg_id: str = Field(max_length=128)
    replies: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime


class Binding(SQLModel, table=True):
    """A confirmed right of a chat user to act for an entity, valid until `expires_at`."""

    __table_args__ = (UniqueConstraint("user_id", "uscc", name="uq_binding_user_entity"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=128, index=True)
    uscc: str = Field(max_length=18)
    confirmed_at: datetime
    expires_at: datetime


class IdentityThrottle(SQLModel, table=True):
    """Wrong identity answers counted by what is attacked: an entity, a client address, a user.

    One row per (scope, subject). Failures count within a window that opens with the first of
    them; reaching the scope's limit locks the subject for everyone, and each lock that follows
    an earlier one within a day lasts twice as long (`locks` counts them).
    """

    __tablename__ = "identity_throttle"

    scope: str = Field(primary_key=True, max_length=8)
    subject: str = Field(primary_key=True, max_length=128)
    failures: int = 0
    window_start: datetime
    locked_until: datetime | None = None
    locks: int = 0
    updated_at: datetime


class CodeRequest(SQLModel, table=True):
    """One one-time code sent: the SMS limits per phone, client address and user read these rows.

    The phone is kept as a keyed hash: the limits need equality, not the number.
    """

    __tablename__ = "code_request"
    __table_args__ = (
        Index("ix_code_request_phone", "phone_hash", "sent_at"),
        Index("ix_code_request_client", "client", "sent_at"),
        Index("ix_code_request_user", "user_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    phone_hash: str = Field(max_length=64)
    user_id: str = Field(max_length=128)
    client: str = Field(default="", max_length=64)
    sent_at: datetime


class OutboxMessage(SQLModel, table=True):
    """Outbound SMS and WeChat calls, recorded locally: the demo reads codes here, tests assert on it."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    recipient: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class ServiceProcess(SQLModel, table=True):
    """A service process that can own work in flight (a report being issued), with its heartbeat.

    A conversation left at "issuing" names the process that began it; the next message resumes
    at once when that process is stopped, unknown, gone from its host or silent for three beats.
    """

    __tablename__ = "service_process"

    id: str = Field(primary_key=True, max_length=32)
    pid: int
    host: str = Field(max_length=255)
    started_at: datetime
    heartbeat_at: datetime = Field(index=True)
    stopped_at: datetime | None = None
