"""Database rows. A case's workflow state is one JSON document; everything a query needs is a row of its own."""
from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns aware UTC (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: every stored time is timezone-aware UTC")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    # Every model here is a plain table (no mapping to a join or a query), and the commands build Core statements
    # from it (``Case.__table__.insert()``): typed as the Table it is, not as any FromClause.
    __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="hu")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_codes(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class LoginSession(Base):
    """One login of one person in a browser (engine/people/login_sessions.py). The cookie carries a random token;
    only its SHA-256 is stored. Ended by logout, by the user's deactivation or password change; never deleted."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))


class ApiToken(Base):
    """A credential for the JSON API (engine/people/api_tokens.py): a name, scopes, an optional expiry. The
    client holds a random secret; only its SHA-256 is stored. Revoked, never deleted, so the audit can name it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(100))  # space-separated, as OAuth writes them
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(80))


class PackageVersion(Base):
    """One deployed version of a service package (docs/services.md): its manifest and the hash of all its files.
    The process versions deployed with it point here; a package whose files are unchanged is not stored again."""

    __tablename__ = "package_versions"
    __table_args__ = (UniqueConstraint("package_key", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    package_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict] = mapped_column(JSON)
    files: Mapped[list] = mapped_column(JSON)  # the package's file names, as deployed
    deployed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deployed_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)  # the deployer's why, shown in the version history
    # A draft is stored and checked but not live: no process version points at it until it is published.
    draft: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class PackageFile(Base):
    """One file of a package version, its bytes as deployed: what an export gives back (docs/services.md)."""

    __tablename__ = "package_files"
    __table_args__ = (UniqueConstraint("package_version_id", "path"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    package_version_id: Mapped[int] = mapped_column(ForeignKey("package_versions.id"))
    path: Mapped[str] = mapped_column(String(500))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessDefinition(Base):
    """One deployed version of a BPMN file. The parsed spec is stored here once, never inside instances."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("process_key", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    spec_json: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict] = mapped_column(JSON)
    task_catalogue: Mapped[dict] = mapped_column(JSON)
    deployed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deployed_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)  # the deployer's why, shown in the version history
    # The package version it was deployed with; None for a BPMN file deployed on its own (docs/services.md).
    package_version_id: Mapped[int | None] = mapped_column(ForeignKey("package_versions.id"), index=True)


class Client(Base):
    """A registered person (``registers_client`` of a process, docs/services.md). ``client_code`` is the stable,
    pseudonymous unique identifier."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_code: Mapped[str] = mapped_column(String(20), unique=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The identity is NULL once erased (``erased_at``): the code stays, so the pseudonymous figures still count.
    # Sealed under the client's data key (engine/store/keys.py; read and written by engine/cases/clients.py),
    # the birth date too (its ISO text). Only its year is in clear: reports narrow the rows whose age on a day
    # they must open the date for by it (docs/architecture.md, "Where personal data lives").
    family_name: Mapped[str | None] = mapped_column(Text)
    given_name: Mapped[str | None] = mapped_column(Text)
    birth_date: Mapped[str | None] = mapped_column(Text)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    birth_place: Mapped[str | None] = mapped_column(Text)
    mother_name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    data_key_id: Mapped[str | None] = mapped_column(String(32))  # NULL: registered before sealing, or erased
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    registered_by: Mapped[str] = mapped_column(String(80))
    erased_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Intake(Base):
    """One registration of a client (a client who comes back is registered again, as 'returning'); what the
    registering process's manifest says is ``recorded`` each time (docs/services.md)."""

    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    client_status: Mapped[str] = mapped_column(String(10))  # new | returning
    # Both sealed under the case's data key (engine/store/keys.py).
    problem: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)  # a case started from the client may start with it
    taken_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class Case(Base):
    """A running or finished process instance. ``state`` is SpiffWorkflow's serialisation without the spec."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # running | completed | failed
    state: Mapped[bytes] = mapped_column(LargeBinary)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    caseworker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    started_by: Mapped[str] = mapped_column(String(80))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    audit_head: Mapped[str] = mapped_column(String(64), default="")
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    # A legal hold keeps the case from erasure whatever its retention (engine/privacy/retention.py): why, who, when.
    hold_reason: Mapped[str | None] = mapped_column(String(1000))
    hold_set_by: Mapped[str | None] = mapped_column(String(80))
    hold_set_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # When its personal data was erased (engine/privacy/erasure.py); the case's shape and history stay.
    erased_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # The key its state, drafts, audit payloads, intake, members' rows and documents are sealed under
    # (engine/store/keys.py); destroyed by erasure. NULL only for a case whose data was erased before sealing.
    data_key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_cases_process_status", "process_key", "status"),)


class HumanTask(Base):
    """A user task as the inbox sees it; kept in step with the workflow by every command."""

    __tablename__ = "human_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    step: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(40))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20))  # ready | completed | cancelled
    form_file: Mapped[str | None] = mapped_column(String(200))
    draft: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(80))
    # The user task's property ``purpose``: a dated appointment of that kind the agenda shows (docs/timers.md).
    purpose: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        # The inbox's filters, then its sort keys, so a page is the first rows of an index range (migration 0005).
        Index("ix_human_tasks_role_queue", "state", "role", "assignee_id", text("(due_at IS NULL)"), "due_at",
              "created_at", "id"),
        Index("ix_human_tasks_assigned", "assignee_id", "state", text("(due_at IS NULL)"), "due_at", "created_at",
              "id"),
    )


class InboxCount(Base):
    """A signed change to the number of tasks waiting for one assignee (NULL: unclaimed in the role's queue) in
    one role with one due day (UTC; NULL: none). Written only by triggers on ``human_tasks`` (migration 0027);
    the sum of a key's rows is its count. engine/cases/inbox_counts.py reads and merges them."""

    __tablename__ = "inbox_counts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(40))
    due_day: Mapped[dt.date | None] = mapped_column(Date)
    n: Mapped[int] = mapped_column(Integer)
    # True on the rows a merge wrote; the triggers' rows are False (migration 0028).
    merged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    __table_args__ = (Index("ix_inbox_counts_key", "assignee_id", "role", "due_day", "n", "merged"),)


class AuditEvent(Base):
    """Append-only history. Events of one case form a hash chain (prev_hash → hash)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # indexed with seq (migrations 0003, 0007)
    task_id: Mapped[int | None] = mapped_column(BigId)
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    # SHA-256 of the payload's canonical JSON, what the hash covers (engine/store/audit.py): the payload can be
    # erased and the chain still verifies. NULL for events written before migration 0033 whose chain was not
    # re-hashed; their hash covers the payload itself.
    payload_digest: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class DataKey(Base):
    """A case's or a client's data key, wrapped by a master key kept outside the database (engine/store/keys.py).
    Destroying it (``wrapped`` NULL) is crypto-shredding: what it sealed can no longer be read."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, so caches never mix two databases
    owner: Mapped[str] = mapped_column(String(10))  # case | client | register
    master_key_id: Mapped[str] = mapped_column(String(40), index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class AuditStream(Base):
    """Head of the hash chain for events that belong to no case (deployments, users)."""

    __tablename__ = "audit_streams"

    stream: Mapped[str] = mapped_column(String(40), primary_key=True)
    head: Mapped[str] = mapped_column(String(64), default="")
    seq: Mapped[int] = mapped_column(Integer, default=0)



class CaseMember(Base):
    """One membership of a client in a case with members (a group): joined on a day, left on a day or not yet;
    ``data`` holds what the joining and leaving rows of the form recorded (engine/cases/members.py)."""

    __tablename__ = "case_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    joined_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    joined_task_id: Mapped[int | None] = mapped_column(BigId)
    left_task_id: Mapped[int | None] = mapped_column(BigId)
    data: Mapped[dict] = mapped_column(JSON)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(80))


class AnonymousAnswer(Base):
    """One submitted answer of an anonymous questionnaire (docs/forms.md, "Anonymous questionnaires").

    Deliberately nothing that leads back to a person: no case, client, task, user or exact time; the id is random
    (a counter would order the answers and so line them up with the audit log); the period is coarse (a month, a
    quarter or a year); a respondent's pairing code is kept only as a keyed hash. Read in aggregate only."""

    __tablename__ = "anonymous_answers"
    __table_args__ = (Index("ix_anonymous_answers_questionnaire", "package_key", "questionnaire", "period_start"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    package_key: Mapped[str] = mapped_column(String(100))
    questionnaire: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    pair_group: Mapped[str | None] = mapped_column(String(64))
    pair_moment: Mapped[str | None] = mapped_column(String(10))  # "start" or "close"
    pair_hash: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict] = mapped_column(JSON)


class AnonymousInvitation(Base):
    """A one-time link to answer an anonymous questionnaire on one's own device (docs/forms.md, "Handing a
    questionnaire to the client"). Only the SHA-256 of the link's token is kept, never the token; no case, client,
    task or user; the day it expires and whether it was used (not when), so that nothing lines it up with an
    answer. The form to show is named by the process version and form file."""

    __tablename__ = "anonymous_invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    package_key: Mapped[str] = mapped_column(String(100))
    questionnaire: Mapped[str] = mapped_column(String(64))
    definition_id: Mapped[int] = mapped_column(Integer)
    form_file: Mapped[str] = mapped_column(String(200))
    expires_on: Mapped[dt.date] = mapped_column(Date)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AnonymousPairingKey(Base):
    """The secret a pairing code is hashed with, one per package and pair group, made on first use: the stored
    hash does not show the code a respondent chose, and the same code gives the same hash only within the group."""

    __tablename__ = "anonymous_pairing_keys"

    package_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    pair_group: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
