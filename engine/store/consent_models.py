"""The consent register: a person's data-processing statements and their lifecycle (docs/operations.md,
"Consent and legal basis").

One row per statement a person signed: which statement (its key and version, and its text as it stood, in both
languages), the day it was given and the day it expires, who recorded it, and — once withdrawn — the day, who
recorded the withdrawal and why. A row is never deleted or rewritten but for its withdrawal: it is the proof
that processing had a basis (GDPR Art. 7(1)). It refers to the person by the pseudonymous client id only.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, BigId, UtcDateTime


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_client", "client_id", "statement_key"),
                      Index("ix_consents_case", "case_id"),
                      Index("ix_consents_expiry", "expires_on"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The case it was recorded on; the client once known (an intake's client is registered by a later step, so
    # a consent taken at its start names the case only until then: engine/cases/consent.py links it).
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    statement_key: Mapped[str] = mapped_column(String(63))
    statement_version: Mapped[str] = mapped_column(String(40))
    statement_text: Mapped[dict] = mapped_column(JSON)  # {"hu": …, "en": …} as the person read it
    given_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    withdrawn_on: Mapped[dt.date | None] = mapped_column(Date)
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
