"""`segito audit verify`: is the audit log as it was written?

Each case's events form a hash chain whose head and length are kept on the case row; events outside any case
chain through ``audit_streams``. The check recomputes every hash and walks every chain by position, and names
what it finds with the position: an **edited** event (its hash no longer fits its content), a **deleted** one
(a gap, or a chain shorter than its case records — the last event, or all of a case's events), an **inserted**
one (two events claim one position, or more events than the case records), a **reordered** pair (positions
out of insertion order, or a hash that fits another position). Every case row is checked, not only those
that still have events, so removing a whole case's history is found too.

A payload enters its event's hash through its digest (engine/store/audit.py), so a payload erased by law
(engine/privacy/erasure.py: replaced by a tombstone naming the erasure event of the same chain) leaves the chain
intact; a payload that no longer fits its digest, or was removed without such an erasure event, is **edited**.

The chain is only as strong as its anchor: someone who can write the database can also recompute every hash
and the head. ``anchor`` therefore returns the heads of all chains; kept outside the database (printed, mailed,
another system), a later ``verify(..., anchor=...)`` proves that every chain still passes through them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

from sqlalchemy import select

from ..store.audit import ERASED, PERSONAL_DATA_ERASED, event_hash, is_erased, payload_problem
from ..store.models import AuditEvent, AuditStream, Case


@dataclass
class Problem:
    chain: str  # "case 12" or "stream system"
    kind: str  # edited | deleted | inserted | reordered | anchor
    position: int | None
    event_id: int | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def _recomputed(e: AuditEvent, seq: int | None = None, prev: str | None = None) -> str:
    return event_hash(e.prev_hash if prev is None else prev, e.seq if seq is None else seq, e.occurred_at, e.actor,
                      e.kind, e.case_id, e.task_id, e.payload, e.payload_digest)


def _erasure_problems(events: Sequence[AuditEvent]) -> list[tuple[AuditEvent, str]]:
    """Erased payloads each need the erasure event of their own chain that names them: a payload removed any other
    way is tampering. (The erasure event's own payload is covered by its digest like any other.)"""
    by_seq = {e.seq: e for e in events}
    found = []
    for e in events:
        if not is_erased(e.payload):
            continue
        if e.payload_digest is None:
            found.append((e, "its payload was removed, and its hash covered the payload itself"))
            continue
        record = by_seq.get(e.payload[ERASED])
        if record is None or record.kind != PERSONAL_DATA_ERASED or e.seq not in (record.payload or {}).get(
                "positions", ()):
            found.append((e, f"its payload was removed without an erasure event naming it (position "
                             f"{e.payload[ERASED]} is not one)"))
    return found


def check_chain(chain: str, events: Sequence[AuditEvent], head: str, length: int, session=None) -> list[Problem]:
    """Problems of one chain, given its events (any order) and the head and length its owner recorded; sealed
    payloads are opened on ``session`` to check their digests."""
    problems: list[Problem] = []
    add = lambda kind, pos, ev, msg: problems.append(Problem(chain, kind, pos, ev, f"{chain}: {msg}"))  # noqa: E731
    if not events:
        if length:
            add("deleted", 1, None, f"all {length} events are missing (positions 1–{length})")
        return problems
    # Insertion order (ids) must follow chain order; a hash that fits another position means swapped positions.
    by_id = sorted(events, key=lambda e: e.id)
    broken = {e.id for e in events if _recomputed(e) != e.hash}
    # A payload that no longer fits its digest, or was erased without record, is an edit the hash alone misses.
    unfit = {e.id: problem for e in events if (problem := payload_problem(e.payload, e.payload_digest, session))}
    unfit.update((e.id, problem) for e, problem in _erasure_problems(events))
    seqs = sorted({e.seq for e in events})
    swapped = set()
    for e in by_id:
        if e.id in broken:
            fits = [s for s in seqs if s != e.seq and _recomputed(e, seq=s) == e.hash]
            if fits:
                swapped.add(e.id)
                add("reordered", e.seq, e.id, f"event id {e.id} sits at position {e.seq} but was written for "
                                               f"position {fits[0]}")
    # Walk the positions.
    prev: str | None  # the hash the next event must link to; None when unknown (after a gap or a swap)
    expected, prev, inserted = 1, "", set()
    for seq in seqs:
        here = sorted((e for e in events if e.seq == seq), key=lambda e: e.id)
        if seq > expected:
            add("deleted", expected, None, f"position{'s' if seq - expected > 1 else ''} "
                                           f"{expected}{'–' + str(seq - 1) if seq - expected > 1 else ''} "
                                           f"missing: deleted before event id {here[0].id}")
            prev = None  # unknown: the link after a gap is not checked again
        genuine = [e for e in here if prev is None or e.prev_hash == prev] or here[:1]
        keep = genuine[0]
        for extra in here:
            if extra is not keep:
                inserted.add(extra.id)
                add("inserted", seq, extra.id, f"event id {extra.id} claims position {seq}, already held by "
                                               f"event id {keep.id}: inserted")
        if prev is not None and keep.prev_hash != prev and keep.id not in swapped:
            add("edited", seq, keep.id, f"event id {keep.id} at position {seq} does not link to the event at "
                                        f"position {seq - 1}: one of the two was replaced")
        # After a swapped pair the next link cannot be expected to hold; it was reported with the pair.
        prev, expected = (None if keep.id in swapped else keep.hash), seq + 1
    in_order = [e for e in by_id if e.id not in inserted]
    for before, after in pairwise(in_order):
        if after.seq < before.seq:
            add("reordered", after.seq, after.id, f"event id {after.id} (position {after.seq}) was stored after "
                                                  f"event id {before.id} (position {before.seq})")
    for e in by_id:
        if e.id in broken and e.id not in swapped and e.id not in inserted:
            add("edited", e.seq, e.id, f"event id {e.id} at position {e.seq} ({e.kind}) was altered: its content "
                                       f"no longer matches its hash")
        elif e.id in unfit and e.id not in inserted:
            add("edited", e.seq, e.id, f"event id {e.id} at position {e.seq} ({e.kind}) was altered: "
                                       f"{unfit[e.id]}")
    last = expected - 1
    if length > last:
        add("deleted", last + 1, None, f"the chain ends at position {last} but {length} events were recorded: "
                                       f"position{'s' if length - last > 1 else ''} {last + 1}"
                                       f"{'–' + str(length) if length - last > 1 else ''} deleted")
    elif length < last:
        add("inserted", length + 1, None, f"{last - length} event(s) after the recorded end (position {length}) "
                                          f"were inserted")
    elif keep.hash != head:
        add("edited", last, None, f"the last event (position {last}) is not the one recorded as the chain's head")
    return sorted(problems, key=lambda p: (p.position or 0, p.event_id or 0))


def _stream_chains(events: list[AuditEvent], streams: list[AuditStream]) -> tuple[dict, list[AuditEvent]]:
    """Events outside any case, split into their streams by following the hash links back from each head."""
    if len(streams) <= 1:
        return ({streams[0].stream: events} if streams else {}), ([] if streams else events)
    by_hash = {e.hash: e for e in events}
    chains, seen = {}, set()
    for s in streams:
        chain, cursor = [], by_hash.get(s.head)
        while cursor is not None and cursor.id not in seen:
            chain.append(cursor)
            seen.add(cursor.id)
            cursor = by_hash.get(cursor.prev_hash) if cursor.prev_hash else None
        chains[s.stream] = chain
    return chains, [e for e in events if e.id not in seen]


def verify(session, case_ids: list[int] | None = None, anchor: dict | None = None) -> dict:
    """Check every chain (or the given cases'); returns counts, problems and the anchor of what was checked."""
    problems: list[Problem] = []
    heads: dict = {"cases": {}, "streams": {}}
    counted = 0
    cases = select(Case.id, Case.audit_head, Case.audit_seq).order_by(Case.id)
    events = select(AuditEvent).where(AuditEvent.case_id.is_not(None)).order_by(AuditEvent.case_id, AuditEvent.id)
    if case_ids:
        cases = cases.where(Case.id.in_(case_ids))
        events = events.where(AuditEvent.case_id.in_(case_ids))
    case_rows = session.execute(cases).all()
    stream = iter(session.execute(events.execution_options(yield_per=2000)).scalars())
    pending = next(stream, None)
    for case_id, head, length in case_rows:
        mine = []
        while pending is not None and pending.case_id <= case_id:
            if pending.case_id == case_id:
                mine.append(pending)
            pending = next(stream, None)
        counted += len(mine)
        problems += check_chain(f"case {case_id}", mine, head or "", length or 0, session)
        heads["cases"][str(case_id)] = [length or 0, head or ""]
    if not case_ids:
        loose = session.execute(select(AuditEvent).where(AuditEvent.case_id.is_(None))
                                .order_by(AuditEvent.id)).scalars().all()
        streams = session.execute(select(AuditStream).order_by(AuditStream.stream)).scalars().all()
        chains, orphans = _stream_chains(loose, streams)
        counted += len(loose)
        for s in streams:
            problems += check_chain(f"stream {s.stream}", chains.get(s.stream, []), s.head, s.seq,
                                    session)
            heads["streams"][s.stream] = [s.seq, s.head]
        for e in orphans:
            problems.append(Problem("streams", "inserted", e.seq, e.id, f"event id {e.id} ({e.kind}) belongs to "
                                    "no stream's chain: inserted, or its chain was cut before it"))
    if anchor:
        problems += _against_anchor(session, anchor, heads, bool(case_ids))
    return {"ok": not problems, "cases_checked": len(heads["cases"]), "streams_checked": len(heads["streams"]),
            "events_checked": counted, "problems": [p.as_dict() for p in problems],
            "anchor": anchor_of(heads)}


def anchor_of(heads: dict) -> dict:
    body = json.dumps(heads, sort_keys=True, separators=(",", ":"))
    return dict(heads, digest=hashlib.sha256(body.encode()).hexdigest())


def _against_anchor(session, anchor: dict, heads: dict, partial: bool) -> list[Problem]:
    """Every chain head in an earlier anchor must still be in its chain, at the same position."""
    problems = []
    for case_id, (length, head) in (anchor.get("cases") or {}).items():
        if not length:
            continue
        if case_id not in heads["cases"]:
            if not partial:
                problems.append(Problem(f"case {case_id}", "anchor", None, None,
                                        f"case {case_id}: it had {length} events when the anchor was taken and is "
                                        f"gone now"))
            continue
        found = session.execute(select(AuditEvent.hash).where(AuditEvent.case_id == int(case_id),
                                                              AuditEvent.seq == length)).scalars().all()
        if head not in found:
            problems.append(Problem(f"case {case_id}", "anchor", length, None,
                                    f"case {case_id}: position {length} is no longer the event the anchor recorded "
                                    f"(the history up to it was rewritten or removed)"))
    if not partial:
        loose = {e.hash for e in session.execute(select(AuditEvent).where(AuditEvent.case_id.is_(None))).scalars()}
        for name, (length, head) in (anchor.get("streams") or {}).items():
            if length and head not in loose:
                problems.append(Problem(f"stream {name}", "anchor", length, None,
                                        f"stream {name}: the event at position {length} recorded by the anchor "
                                        f"is gone or rewritten"))
    return problems
