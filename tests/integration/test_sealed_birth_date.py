"""The client register's birth date sealed at rest (engine/cases/clients.py): not in the database, ages banded
exactly as before sealing (engine/reports/compute.py, ``Births``) at the bands' edges and on leap days, unreadable
once the client is erased, and migration 0037 sealing and opening existing rows."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import select, text

from engine.cases import clients
from engine.errors import KeyUnavailable
from engine.privacy import erasure
from engine.reports import compute, grammar, run
from engine.reports.models import ReportCase
from engine.reports.request import ReportRequest
from engine.runtime.runtime import Runtime
from engine.store import clock, keys, migrate
from engine.store.config import BPMN_DIR
from engine.store.db import Database
from engine.store.models import Case, Client, ProcessDefinition

from .test_packages import _copy, _refused
from .test_sealed_personal_data import PERSON, _raw_text, _register

LIMITS = [[None, 25, "–24"], [25, 35, "25–34"], [35, 45, "35–44"], [45, 55, "45–54"], [55, None, "55–"]]
# A report over the rows inserted below: ages on the period's last day, and on each quarter's.
REPORT = grammar.normalised({
    "format": 1, "key": "ages_test", "title": {"hu": "kor", "en": "ages"}, "processes": ["intake"],
    "case": {"start": "started"}, "facts": {"started": {"case": "started"}, "birth_date": {"client": "birth_date"}},
    "indicators": [{"id": "cases", "label": {"hu": "e", "en": "c"}, "count": "cases"}],
    "tables": [
        {"id": "ages", "title": {"hu": "kor", "en": "age"}, "columns": [
            {"id": "cases", "label": {"hu": "e", "en": "c"}, "count": "cases"},
            {"id": "clients", "label": {"hu": "k", "en": "c"}, "distinct": "client"}],
         "rows": {"bands": "birth_date", "age": True, "limits": LIMITS, "missing": "unknown"}},
        {"id": "by_quarter", "title": {"hu": "kor", "en": "age"},
         "columns": [{"id": "cases", "label": {"hu": "e", "en": "c"}, "count": "cases"}],
         "rows": ["quarter", {"bands": "birth_date", "age": True, "limits": LIMITS}]}]})
ENDS = [dt.date(2026, 6, 30), dt.date(2028, 2, 29), dt.date(2027, 2, 28), dt.date(2027, 3, 31)]


def _births() -> list[dt.date]:
    """Birthdays on, a day before and a day after each edge's day for every period end above, and leap days."""
    found = {dt.date(2000, 2, 29), dt.date(2004, 2, 29), dt.date(2003, 2, 28), dt.date(2003, 3, 1),
             dt.date(1972, 2, 29), dt.date(1973, 3, 1), dt.date(1992, 2, 29), dt.date(1993, 2, 28)}
    for end in ENDS:
        for edge in (25, 35, 45, 55):
            year = end.year - edge
            day = dt.date(year, 3, 1) - dt.timedelta(days=1) if (end.month, end.day) == (2, 29) else \
                end.replace(year=year)
            found |= {day, day - dt.timedelta(days=1), day + dt.timedelta(days=1)}
    return sorted(found)


def _before_sealing(born: dt.date | None, band: list, on: dt.date) -> bool:
    """Whether the SQL of reports before sealing (a range of birth dates per band) counted ``born`` in ``band``
    on ``on``: its rule, transcribed."""
    def years_before(n: float) -> dt.date:
        year = on.year - int(n)
        return on.replace(year=year) if not (on.month == 2 and on.day == 29) else dt.date(year, 3, 1) - dt.timedelta(1)
    if born is None:
        return False
    return (band[0] is None or born <= years_before(band[0])) and (band[1] is None or born > years_before(band[1]))


def _population(runtime, births: list[dt.date | None]) -> list[int]:
    """A client per birth date (None: one whose date is erased), each with an intake case in the report."""
    at = clock.now()
    ids = []
    with runtime.db.unit_of_work() as session:
        definition_id = session.execute(select(ProcessDefinition.id).where(ProcessDefinition.process_key == "intake")
                                        .limit(1)).scalar_one()
        for i, born in enumerate(births):
            key_id = keys.new_data_key(session, "client", at)
            client = Client(client_code=f"K-AGE{i:05d}", dedup_key=f"age-{i}", registered_at=at, registered_by="t",
                            data_key_id=key_id, **clients.sealed_identity(session, key_id, {
                                "family_name": "Kor", "given_name": f"Teszt {i}", "birth_date": born,
                                "mother_name": "Anya"}))
            session.add(client)
            session.flush()
            case = Case(definition_id=definition_id, process_key="intake", client_id=client.id, status="running",
                        state=b"", lock_version=1, started_at=at, started_by="t", audit_head="", audit_seq=0)
            session.add(case)
            session.flush()
            session.add(ReportCase(report_key=REPORT["key"], case_id=case.id, process_key="intake",
                                   client_id=client.id, start_day=dt.date(2020, 1, 1), end_day=None, facts={},
                                   digest="t", updated_at=at))
            ids.append(client.id)
    return ids


def _expected(births: list[dt.date | None], on: dt.date) -> list[int]:
    return [sum(_before_sealing(b, band, on) for b in births) for band in LIMITS] + [
        sum(b is None for b in births)]


def _computed(runtime, start: dt.date, end: dt.date) -> dict:
    with runtime.db.reading() as session:
        return compute.compute(session, REPORT, ReportRequest(start, end))


def test_ages_are_banded_as_before_sealing_at_the_edges_and_on_leap_days(runtime):
    births: list[dt.date | None] = [*_births(), None]
    _population(runtime, births)
    for end in ENDS:
        found = _computed(runtime, dt.date(end.year, 1, 1), end)
        assert [r["cases"] for r in found["tables"]["ages"]] == _expected(births, end), end
        assert [r["clients"] for r in found["tables"]["ages"]] == _expected(births, end), end
    # Each quarter's rows are its last day's ages (31 March, 30 June, … 29 February of a leap year).
    found = _computed(runtime, dt.date(2027, 1, 1), dt.date(2028, 2, 29))
    for row in found["tables"]["by_quarter"]:
        quarter = {"2027-Q1": dt.date(2027, 3, 31), "2027-Q2": dt.date(2027, 6, 30), "2027-Q3": dt.date(2027, 9, 30),
                   "2027-Q4": dt.date(2027, 12, 31), "2028-Q1": dt.date(2028, 2, 29)}[row["quarter"]]
        assert row["cases"] == _expected(births, quarter)[int(row["key"])], row
    # The cases behind a band: the same clients the band counted.
    with runtime.db.reading() as session:
        for key, band in enumerate(LIMITS):
            listed = run.cases_in(session, REPORT, ReportRequest(dt.date(2028, 1, 1), dt.date(2028, 2, 29)),
                                  "ages.cases", str(key), limit=1000)
            assert listed["total"] == _expected(births, dt.date(2028, 2, 29))[key]


def test_a_report_opens_only_the_dates_of_the_edges_years_and_each_once(runtime):
    births = [dt.date(1960 + i % 50, 1 + i % 12, 1 + i % 28) for i in range(300)]
    _population(runtime, births)
    keys.reload_master_keys()  # as after a restart: no data key unwrapped yet
    with runtime.db.reading() as session:
        comp = compute.Compiler(REPORT, ReportRequest(dt.date(2026, 1, 1), dt.date(2026, 6, 30)), session)
        assert comp.births is not None
        for band in LIMITS:
            comp.births.age_condition(band, dt.date(2026, 6, 30))
        comp.births.age_condition(LIMITS[1], dt.date(2026, 3, 31))  # another day, the same years: none again
        # 2001, 1991, 1981, 1971: six clients born in each of them (300 over 50 years).
        assert sorted(comp.births.dates) == [1971, 1981, 1991, 2001] and comp.births.opened == 24
    assert [r["cases"] for r in _computed(runtime, dt.date(2026, 1, 1), dt.date(2026, 6, 30))["tables"]["ages"]] \
        == _expected(births, dt.date(2026, 6, 30))


def test_the_birth_date_is_not_in_the_database_and_an_erased_client_counts_as_unknown(runtime, people):
    code = _register(runtime, people.anna, PERSON)
    born = dt.date.fromisoformat(PERSON["birth_date"])
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert client.birth_year == born.year and keys.open_text(session, client.birth_date, keys.CLIENT) \
            == PERSON["birth_date"] and clients.identity(session, client)["birth_date"] == born
        sealed = client.birth_date
    raw = _raw_text(runtime)
    assert code in raw
    for shown in (PERSON["birth_date"], born.strftime("%Y.%m.%d"), born.strftime("%Y%m%d")):
        assert shown not in raw, f"{shown} lies in the database in clear"
    # Erased: the key destroyed, the sealed copy unreadable, the date and year gone; reports say "unknown".
    others = _population(runtime, [dt.date(1990, 5, 5)])
    with runtime.db.unit_of_work() as session:
        client = session.get(Client, others[0])
        copy = client.birth_date
        erasure.erase_client(session, client, clock.now(), "dpo", {"reason": "test"})
    keys.reload_master_keys()
    with runtime.db.reading() as session:
        with pytest.raises(KeyUnavailable, match="destroyed"):
            keys.open_text(session, copy, keys.CLIENT)
        erased = session.get(Client, others[0])
        assert (erased.birth_date, erased.birth_year) == (None, None)
        assert keys.open_text(session, sealed, keys.CLIENT) == PERSON["birth_date"]  # another client's: opens
    ages = _computed(runtime, dt.date(2026, 1, 1), dt.date(2026, 6, 30))["tables"]["ages"]
    assert [r["cases"] for r in ages] == [0, 0, 0, 0, 0, 1]


def test_a_register_fact_read_other_than_by_an_age_band_is_refused(runtime, tmp_path):
    folder = _copy(BPMN_DIR / "job_retention", tmp_path)
    path = folder / "reports" / "job_retention.yaml"
    report = path.read_text(encoding="utf-8")
    report = report.replace("where: {fact: lay_helpers, above: 0}", "where: {fact: birth_date, filled: true}")
    report = report.replace("      bands: birth_date\n      age: true\n", "      bands: birth_date\n", 1)
    path.write_text(report, encoding="utf-8")
    lines = report.splitlines()
    problems = [p for p in _refused(runtime, folder) if "sealed at rest" in p]
    wheres = [i for i, t in enumerate(lines, 1) if "fact: birth_date, filled" in t]
    rows = [i for i, t in enumerate(lines, 1) if t.strip() == "bands: birth_date"]
    assert len(wheres) == 2 and len(rows) == 1
    assert sorted(int(p.split(":")[1]) for p in problems) == sorted([*wheres, rows[0] - 1]), problems
    assert all("'birth_date' is the client register's birth date, sealed at rest: only an age band's rows read "
               "it ('bands: birth_date' with 'age: true')" in p for p in problems)


def test_the_migration_seals_existing_dates_and_opens_them_again(runtime, people):
    code = _register(runtime, people.anna, PERSON)
    runtime.db.close()
    command.downgrade(migrate.alembic_config(runtime.db.url), "0036_keyed_deduplication")
    db = Database(runtime.db.url)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT birth_date FROM clients WHERE client_code = :code"), {"code": code}).scalar()
    assert str(stored) == PERSON["birth_date"]  # in clear, a DATE again
    db.close()
    command.upgrade(migrate.alembic_config(runtime.db.url), "head")
    fresh = Runtime(Database(runtime.db.url))
    with fresh.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert client.birth_date.startswith(keys.TEXT_PREFIX) and client.birth_year == 1961
        assert clients.identity(session, client)["birth_date"] == dt.date(1961, 7, 23)
    assert _register(fresh, people.anna, PERSON) == code  # still recognised: the deduplication key is unchanged
    assert PERSON["birth_date"] not in _raw_text(fresh)
