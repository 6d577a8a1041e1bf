"""The database tables, as SQLAlchemy 2 declarative models.

Coordinates are stored in British National Grid (EPSG:27700) metres, already
snapped at import; boundaries as WKB in the same CRS. No table holds a name,
date of birth, address, NHS number, case number or free text about a child.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Action",
    "Assessment",
    "Attachment",
    "AuditEvent",
    "Base",
    "ContextEvent",
    "DataChange",
    "District",
    "Finding",
    "ImportBatch",
    "Incident",
    "MaceAgendaItem",
    "MacePanel",
    "Notification",
    "NotificationPreference",
    "Organisation",
    "Place",
    "PlaceLink",
    "Referral",
    "Setting",
    "User",
    "Ward",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time in UTC, as stored in ``created_at``."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON}


class Tracked:
    """Columns every table carries: when, and who, created and last changed it."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    created_by: Mapped[str] = mapped_column(String(120), default="system")
    updated_by: Mapped[str] = mapped_column(String(120), default="system")


class District(Tracked, Base):
    """A local authority district, identified by its ONS code."""

    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(200))
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)


class Ward(Tracked, Base):
    """An electoral ward, within a district."""

    __tablename__ = "wards"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)


class ImportBatch(Tracked, Base):
    """One imported file: what came in, what was accepted and why rows were not."""

    __tablename__ = "import_batches"
    __table_args__ = (UniqueConstraint("kind", "file_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(120))
    file_name: Mapped[str] = mapped_column(String(255))
    file_hash: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_outside_area: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Place(Tracked, Base):
    """A place or space of concern: a park, a takeaway, a transport hub..."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    easting: Mapped[float | None] = mapped_column(Float)
    northing: Mapped[float | None] = mapped_column(Float)
    area_wkb: Mapped[bytes | None] = mapped_column(LargeBinary)
    postcode: Mapped[str | None] = mapped_column(String(8))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    responsible_org: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))

    assessments: Mapped[list[Assessment]] = relationship(back_populates="place")


REFERENCE = String(64).with_variant(String(64, collation="C"), "postgresql")
"""A stored reference (a keyed pseudonym or fingerprint): compared byte by byte.

References are opaque, so the language's sort order means nothing for them; on
PostgreSQL the ``C`` collation builds and probes their indexes in about half the time
(0014_reference_collation). SQLite compares text byte by byte already."""


def new_record_key() -> int:
    """Return a fresh record key: uniform on 0..255, from the operating system's randomness.

    The key of a count is the sum of its records' keys mod 256 (``services.disclosure``);
    it decides the count's perturbation for roles without point access.
    """
    return secrets.randbelow(256)


class _Event(Tracked):
    """Columns shared by incidents and referrals."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_agency: Mapped[str] = mapped_column(String(40))
    source_ref: Mapped[str] = mapped_column(REFERENCE, unique=True)
    category: Mapped[str] = mapped_column(String(40))
    occurred_on: Mapped[date] = mapped_column(Date)
    date_precision: Mapped[str] = mapped_column(String(5), default="week")
    age_band: Mapped[str | None] = mapped_column(String(5))
    sex: Mapped[str | None] = mapped_column(String(10))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    easting: Mapped[float | None] = mapped_column(Float)
    northing: Mapped[float | None] = mapped_column(Float)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    ward_code: Mapped[str | None] = mapped_column(String(9))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"), index=True)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    record_key: Mapped[int] = mapped_column(Integer, default=new_record_key)  # services.disclosure
    # issue 19: a person of concern, only ever as a keyed pseudonym (own namespace)
    person_pseudonym: Mapped[str | None] = mapped_column(String(64))


class Incident(_Event, Base):
    """An anonymised incident of exploitation or harm."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_district_date", "district_code", "occurred_on"),
        Index("ix_incidents_date", "occurred_on"),
        Index("ix_incidents_location", "easting", "northing"),  # a place panel's radius
    )


class IncidentRef(Base):
    """Every stored incident's reference, once: the importer's one probe per reference.

    On PostgreSQL ``incidents`` is partitioned (0009_partitions), so looking a reference
    up there probes the ``source_ref`` index of every leaf. This small unpartitioned table
    holds each reference once, kept in step by the database itself (0012_stored_refs:
    triggers on insert, delete, update and truncate of ``incidents``), and gives back the
    uniqueness the partitioned table cannot hold.
    """

    __tablename__ = "incident_refs"

    source_ref: Mapped[str] = mapped_column(REFERENCE, primary_key=True)


class DataChange(Base):
    """The database's own log of writes to the tables the pages read (0013_data_changes).

    Triggers write it, whoever changes those tables; ``store.queries.data_version`` reads
    it to key the pages' caches. On PostgreSQL one row per writing transaction and table
    (``txid``), so writers never wait on each other here; on SQLite one row per table.
    """

    __tablename__ = "data_changes"

    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Referral(_Event, Base):
    """An anonymised referral (Risk Factor Matrix, MACE or other route)."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_district_date", "district_code", "occurred_on"),
        Index("ix_referrals_date", "occurred_on"),
    )

    route: Mapped[str] = mapped_column(String(10))
    risk_level: Mapped[str | None] = mapped_column(String(10))
    child_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str | None] = mapped_column(String(60))


class ContextEvent(Tracked, Base):
    """Public crime or anti-social behaviour of all ages (police.uk): context, not exploitation.

    Kept apart from incidents and referrals: never counted in exploitation
    figures, flags or the Meeting's exploitation measures. ``crime_type`` is
    the source's own type (police.uk's 14); ``record_key`` is a uniform random
    0..255 for cell-key perturbation of counts.
    """

    __tablename__ = "context_events"
    __table_args__ = (
        Index("ix_context_events_district_month", "district_code", "month"),
        Index("ix_context_events_month", "month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(120))
    source_ref: Mapped[str] = mapped_column(REFERENCE, unique=True)
    crime_type: Mapped[str] = mapped_column(String(60))
    month: Mapped[date] = mapped_column(Date)
    easting: Mapped[float | None] = mapped_column(Float)
    northing: Mapped[float | None] = mapped_column(Float)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    ward_code: Mapped[str | None] = mapped_column(String(9))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    record_key: Mapped[int] = mapped_column(Integer)


class PlaceLink(Tracked, Base):
    """An incident or referral belonging to a place (issue 19): the raw material of links.

    ``relation`` says why: ``named`` (the file names the place), ``found_at`` and
    ``frequents`` (the file's columns of those names), ``within`` (the point is
    inside the place's outline) or ``near`` (within the set distance of its point).
    """

    __tablename__ = "place_links"
    __table_args__ = (
        UniqueConstraint("referral_id", "incident_id", "place_id", "relation"),
        Index("ix_place_links_place", "place_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    relation: Mapped[str] = mapped_column(String(12))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), index=True)


class Assessment(Tracked, Base):
    """A safeguarding assessment of a place, organised by the contextual triangle."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)
    assessing_org: Mapped[str] = mapped_column(String(200))
    lead_assessor: Mapped[str] = mapped_column(String(120))
    assessed_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), index=True, default="draft")
    overall_risk: Mapped[str | None] = mapped_column(String(10))
    goals: Mapped[str | None] = mapped_column(Text)
    partners: Mapped[str | None] = mapped_column(Text)
    young_people_consulted: Mapped[bool] = mapped_column(Boolean, default=False)
    families_consulted: Mapped[bool] = mapped_column(Boolean, default=False)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    review_comment: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's own attribute)

    place: Mapped[Place] = relationship(back_populates="assessments")
    findings: Mapped[list[Finding]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )
    actions: Mapped[list[Action]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )


class Finding(Tracked, Base):
    """One checklist finding of an assessment, in one domain of the triangle."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    domain: Mapped[str] = mapped_column(String(20))
    item: Mapped[str] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(120))
    reliability: Mapped[str | None] = mapped_column(String(10))

    assessment: Mapped[Assessment] = relationship(back_populates="findings")


class Action(Tracked, Base):
    """An action agreed in an assessment, with an owner and a due date."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # issue 19: an action belongs to an assessment or to a MACE panel (panel_id)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner_org: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    completed_on: Mapped[date | None] = mapped_column(Date)
    kind: Mapped[str | None] = mapped_column(String(24))
    panel_id: Mapped[int | None] = mapped_column(ForeignKey("mace_panels.id"), index=True)
    # issue 23: the owner is a user or an organisation of the list (owner_org keeps its name,
    # and the typed text of actions recorded before the list)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)

    assessment: Mapped[Assessment | None] = relationship(back_populates="actions")


class MacePanel(Tracked, Base):
    """A MACE panel meeting (issue 19): when, which organisations attended, what was decided."""

    __tablename__ = "mace_panels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    organisations: Mapped[str] = mapped_column(Text)  # one organisation a line
    decisions: Mapped[str | None] = mapped_column(Text)


class MaceAgendaItem(Tracked, Base):
    """A place or a cluster of linked places on a MACE panel's agenda (issue 19)."""

    __tablename__ = "mace_agenda_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("mace_panels.id"), index=True)
    place_keys: Mapped[str] = mapped_column(Text)  # the places, by key, separated by ;
    summary: Mapped[str | None] = mapped_column(Text)


user_districts = Table(
    "user_districts",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("district_code", ForeignKey("districts.code"), primary_key=True),
)


class User(Tracked, Base):
    """A person who signs in, with a role and the districts they cover."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sign-outs so far: a session signed in at an older epoch has ended (issue 15).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    districts: Mapped[list[District]] = relationship(secondary=user_districts)


class AuditEvent(Base):
    """An append-only record of who did what, when, to which record."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity", "entity_id"),  # a record's history
        Index("ix_audit_events_action", "action"),  # e.g. approval dates
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[str | None] = mapped_column(String(100))


class Setting(Tracked, Base):
    """A named setting of the deployment (thresholds, the data version...)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


# issue 23: named owners and e-mail notifications ------------------------------------------


class Organisation(Tracked, Base):
    """An organisation that can own actions, from the list an administrator keeps.

    ``contact_email`` receives the reminders of the organisation's actions; a retired
    organisation (``active`` false) keeps its actions but takes no new ones.
    """

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class NotificationPreference(Tracked, Base):
    """A person's e-mail address for notifications and the kinds they turned off."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(String(200))
    kinds_off: Mapped[list[str]] = mapped_column(JSON, default=list)


class Notification(Base):
    """One e-mail to one address: queued, sent, or held back (the record of what was sent).

    ``key`` names what it is about (kind, record, occasion and recipient) and is unique,
    so the same notification is never queued, and so never sent, twice. ``status``:
    ``pending`` (to send, or to retry after a failure), ``sending`` (claimed by one
    sender), ``sent``, ``blocked`` (the personal-text check stopped it).
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(250), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    subject: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Attachment(Tracked, Base):
    """Evidence from a visit (issue 23): a photo or PDF of an assessment, metadata stripped.

    The file is held in ``content`` or, when the ``evidence_dir`` setting names a folder,
    in that folder under ``stored_name`` (``services.evidence``). It holds no original file name.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # photo or document
    mime: Mapped[str] = mapped_column(String(40))
    caption: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    stored_name: Mapped[str | None] = mapped_column(String(100))
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)
