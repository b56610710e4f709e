"""Personal data sealed at rest: master keys outside the database, data keys inside it, wrapped.

Each case and each registered client has a data key of its own (a random 256-bit AES-GCM key, ``data_keys``),
stored only wrapped — encrypted — by a master key. Master keys never enter the database: they come from
``SEGITO_MASTER_KEYS`` (``id:base64,…``) or from a key file (``SEGITO_KEY_FILE``, by default
``instance/segito.key`` beside the embedded database; one ``id base64`` line per key, mode 0600). The first key
listed wraps new data keys; the others are still read, so a rotation (``rotate``: every data key re-wrapped
under the first key, no data re-encrypted) can run while the old key is live.

What is sealed, with which key (docs/architecture.md, "Where personal data lives"): a case's workflow state,
its steps' drafts, its audit payloads, its intake's problem and phone, its members' rows and documents, under
the case's key; a client's identity in the register (names, birth date and place, mother's name, phone) and
the register's corrections, under the client's key. Erasure destroys the key (``destroy``: crypto-shredding), so a
copy left anywhere — a backup, a stray row — can no longer be read once the master key that wrapped it is gone.

A sealed value is ``MAGIC + key id (16 bytes) + nonce (12) + AES-GCM ciphertext and tag``; what it is (the
column) is the associated data, so a value moved to another column does not open. Values written before
sealing existed (no magic) are read as they are: migration 0035 sealed them.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..errors import KeyUnavailable
from . import config, sqlite_file
from .db import Prepared
from .private_files import write_private

log = logging.getLogger(__name__)

ENV_KEYS = "SEGITO_MASTER_KEYS"
ENV_FILE = "SEGITO_KEY_FILE"
DEFAULT_KEY_FILE = config.PROJECT_ROOT / "instance" / "segito.key"
MAGIC = b"\x00SG1"  # never the first bytes of plain JSON ("{") or of zlib (0x78): stored states tell themselves
TEXT_PREFIX = "sg1:"  # a sealed text column: the prefix, then the sealed value in base64
SEALED = "sealed"  # a sealed JSON column: {"sealed": base64}
_HEADER = len(MAGIC) + 16
_NONCE = 12


# What a sealed value is, its associated data: a value moved to another column does not open there.
STATE = b"cases.state"
DRAFT = b"human_tasks.draft"
PAYLOAD = b"audit_events.payload"
INTAKE = b"intakes"
CLIENT = b"clients"
MEMBER = b"case_members.data"
DOCUMENT = b"case_documents.content"


@dataclass(frozen=True)
class MasterKeys:
    keys: dict[str, bytes]  # id -> 32 bytes, in the order listed
    source: str

    @property
    def active(self) -> str:
        return next(iter(self.keys))


_master: MasterKeys | None = None
_data: dict[str, AESGCM] = {}  # data key id (hex) -> its cipher, unwrapped once per process
_register_secret: tuple[bytes, bytes] | None = None  # (its wrapped form, the secret): see register_secret
_lock = threading.RLock()  # re-entered: loading the keys may write the first key file
_CACHE_MAX = 100_000


def _decode_key(key_id: str, text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise KeyUnavailable(f"master key '{key_id}' in {where} is not 32 bytes in base64; "
                             "`segito keys new` writes a valid one")
    return raw


def _check_id(key_id: str, where: str) -> str:
    if not key_id or len(key_id) > 40 or not all(c.isalnum() or c in "-_." for c in key_id):
        raise KeyUnavailable(f"master key id '{key_id[:40]}' in {where}: use letters, digits, '-', '_', '.' "
                             "(at most 40)")
    return key_id


def parse_key_lines(text: str, where: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.replace(":", " ", 1).split()
        if len(parts) != 2:
            raise KeyUnavailable(f"{where}: a line must be '<key id> <base64 key>'")
        key_id = _check_id(parts[0], where)
        keys[key_id] = _decode_key(key_id, parts[1], where)
    return keys


def new_master_line() -> str:
    key_id = f"mk-{dt.datetime.now(dt.timezone.utc):%Y%m%d}-{secrets.token_hex(3)}"
    return f"{key_id} {base64.urlsafe_b64encode(os.urandom(32)).decode('ascii').rstrip('=')}"


def key_file() -> Path:
    return Path(os.environ.get(ENV_FILE) or DEFAULT_KEY_FILE)


def _file_header() -> str:
    return ("# Segito master keys (docs/operations.md, \"Keys\"). The first line wraps new data keys; keep the older\n"
            "# lines until `segito keys status` shows nothing under them and no backup that needs them is kept.\n"
            "# Back this file up apart from the database: a backup with its key beside it protects nothing.\n")


def add_master_key(path: Path | None = None) -> str:
    """A new master key written at the top of the key file (made 0600 when missing); its id. The next
    ``rotate`` re-wraps every data key under it."""
    target = path or key_file()
    old = target.read_text("utf-8") if target.exists() else ""
    kept = [line for line in old.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    line = new_master_line()
    write_private(target, _file_header() + "\n".join([line, *kept]) + "\n", overwrite=True)
    reload_master_keys()
    return line.split()[0]


def _load_master() -> MasterKeys:
    raw = os.environ.get(ENV_KEYS, "").strip()
    if raw:
        keys = parse_key_lines(raw.replace(",", "\n"), ENV_KEYS)
        if not keys:
            raise KeyUnavailable(f"{ENV_KEYS} names no key")
        return MasterKeys(keys, ENV_KEYS)
    path = key_file()
    if not path.exists():
        if os.environ.get(ENV_FILE) or os.environ.get("DATABASE_URL"):
            # A configured server never makes up its own key: data sealed under it would be lost with the process.
            raise KeyUnavailable(f"no master key: the key file {path} does not exist and {ENV_KEYS} is not set. "
                                 "Restore the key file, or for a new installation run `segito keys new`")
        sqlite_file.make_directory(str(path.parent))
        add_master_key(path)
        log.warning("Generated the master key file %s (mode 0600) for the embedded database. Back it up apart from "
                    "the database: without it the personal data cannot be read (docs/operations.md, \"Keys\").", path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("The master key file %s is readable by others (mode %o); make it 0600", path, mode)
    keys = parse_key_lines(path.read_text("utf-8"), str(path))
    if not keys:
        raise KeyUnavailable(f"the key file {path} holds no key")
    return MasterKeys(keys, str(path))


def master_keys() -> MasterKeys:
    global _master
    current = _master
    if current is None:
        with _lock:
            if _master is None:
                _master = _load_master()
            current = _master
    return current


def reload_master_keys() -> None:
    """Forget the master keys and every unwrapped data key (the configuration changed)."""
    global _master, _register_secret
    with _lock:
        _master = None
        _register_secret = None
        _data.clear()


def _connection(bind) -> Connection:
    if bind is None:
        raise KeyUnavailable("a data key this process does not hold is needed, and no database was given to read it")
    return bind if isinstance(bind, Connection) else bind.connection()


def _table():
    from .models import DataKey  # models import nothing of this module; imported late for the import graph

    return DataKey.__table__


def _wrap(master: bytes, master_id: str, key_id: str, raw: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(master).encrypt(nonce, raw, f"{master_id}/{key_id}".encode())


def _unwrap(master: bytes, master_id: str, key_id: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], f"{master_id}/{key_id}".encode())
    except InvalidTag:
        raise KeyUnavailable(f"the master key '{master_id}' configured here is not the one that wrapped data key "
                             f"{key_id}: check {ENV_KEYS} or the key file (docs/operations.md, \"Keys\")") from None


def new_data_key(bind, owner: str, at: dt.datetime) -> str:
    """A new data key for a case or a client (``owner``: "case" or "client"), stored wrapped; its id."""
    master = master_keys()
    key_id = uuid.uuid4().hex
    raw = AESGCM.generate_key(bit_length=256)
    _connection(bind).execute(_table().insert().values(
        id=key_id, owner=owner, master_key_id=master.active,
        wrapped=_wrap(master.keys[master.active], master.active, key_id, raw), created_at=at))
    _remember(key_id, AESGCM(raw))
    note_live(_connection(bind), key_id)
    return key_id


def _remember(key_id: str, cipher: AESGCM) -> None:
    if len(_data) >= _CACHE_MAX:
        _data.clear()
    _data[key_id] = cipher


# Which data keys this transaction found live: (the transaction, their ids), in the connection's ``info``.
_LIVE = "segito_live_data_keys"
_LIVE_CHECK: Prepared | None = None  # made on first use: the table is the models', imported late


def _still_live(connection: Connection, key_id: str) -> bool:
    """Whether the data key still exists unshredded, read in the caller's transaction once per key: a key this
    process unwrapped earlier may have been destroyed by another process since (an erasure), and then must not
    open anything here either. Memoised per transaction, so a command pays one indexed read per key it uses."""
    global _LIVE_CHECK
    live = _live_here(connection)
    if key_id in live:
        return True
    if _LIVE_CHECK is None:
        t = _table()
        _LIVE_CHECK = Prepared(select(t.c.id).where(t.c.id == bindparam("id"), t.c.wrapped.is_not(None)))
    if _LIVE_CHECK.first(connection, {"id": key_id}) is None:
        return False
    live.add(key_id)
    return True


def _live_here(connection: Connection) -> set[str]:
    """The data keys found live in the connection's current transaction (a new transaction starts empty)."""
    transaction = connection.get_transaction()
    memo = connection.info.get(_LIVE)
    if memo is None or memo[0] is not transaction:
        memo = connection.info[_LIVE] = (transaction, set())
    return memo[1]


def note_live(connection: Connection, key_id: str) -> None:
    """A key made or unwrapped in this transaction is live in it."""
    _live_here(connection).add(key_id)


def _cipher(bind, key_id: str) -> AESGCM:
    cipher = _data.get(key_id)
    if cipher is not None and bind is None:
        return cipher  # no database given: what this process holds (as before the check below existed)
    connection = _connection(bind)
    if cipher is not None:
        if _still_live(connection, key_id):
            return cipher
        _data.pop(key_id, None)  # destroyed by another process: forget it, and say why below
    t = _table()
    row = connection.execute(select(t.c.master_key_id, t.c.wrapped, t.c.destroyed_at)
                             .where(t.c.id == key_id)).first()
    if row is None:
        raise KeyUnavailable(f"data key {key_id} does not exist in this database")
    if row.destroyed_at is not None or row.wrapped is None:
        raise KeyUnavailable(f"data key {key_id} was destroyed when its personal data was erased "
                             f"({row.destroyed_at:%Y-%m-%d}); what it sealed cannot be read")
    master = master_keys()
    secret = master.keys.get(row.master_key_id)
    if secret is None:
        raise KeyUnavailable(f"data key {key_id} is wrapped by master key '{row.master_key_id}', which is not "
                             f"configured here ({master.source} has {', '.join(master.keys)}); "
                             "see docs/operations.md, \"Keys\"")
    cipher = AESGCM(_unwrap(secret, row.master_key_id, key_id, bytes(row.wrapped)))
    _remember(key_id, cipher)
    note_live(connection, key_id)
    return cipher


def hold(bind, key_ids) -> int:
    """Unwrap at once the data keys of ``key_ids`` this process does not hold yet, and check those it holds are
    still live (one SELECT per 500 keys rather than one per key), for code about to open values under many keys
    (a report reading birth dates): each live key is then live for the rest of the transaction. A destroyed key,
    or one under a master key not configured here, is left out (and forgotten): opening under it raises as
    usual. How many keys were unwrapped."""
    connection = _connection(bind)
    live = _live_here(connection)
    # Live in this transaction but no longer held (the master keys were reloaded meanwhile): unwrapped again here,
    # in one SELECT per 500, not one by one when opened.
    wanted = sorted({k for k in key_ids if k and (k not in live or k not in _data)})
    if not wanted:
        return 0
    master, t, done = master_keys(), _table(), 0
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        rows = connection.execute(select(t.c.id, t.c.master_key_id, t.c.wrapped).where(
            t.c.id.in_(part), t.c.destroyed_at.is_(None))).all()
        found = {row.id for row in rows if row.wrapped is not None}
        for key_id in set(part) - found:
            _data.pop(key_id, None)  # destroyed (maybe by another process) or not here
        for row in rows:
            if row.id not in found:
                continue
            if row.id not in _data:
                secret = master.keys.get(row.master_key_id)
                if secret is None:
                    continue
                _remember(row.id, AESGCM(_unwrap(secret, row.master_key_id, row.id, bytes(row.wrapped))))
                done += 1
            live.add(row.id)
    return done


# The register's deduplication secret: one key of the ``data_keys`` table under a fixed id (owner "register"),
# wrapped by the master key like any data key. Not derived from a master key: a rotation would change it and every
# stored deduplication key with it; wrapped, it is re-wrapped by ``rotate`` and stays the same secret, and whoever
# holds the database without a master key cannot compute a person's key to confirm a guessed identity.
REGISTER_KEY_ID = uuid.uuid5(uuid.NAMESPACE_URL, "segito:client-register-deduplication").hex


def register_secret(bind) -> bytes:
    """The secret the client register's deduplication keys are an HMAC under (made on first use)."""
    global _register_secret
    connection = _connection(bind)
    t = _table()
    row = connection.execute(select(t.c.master_key_id, t.c.wrapped).where(t.c.id == REGISTER_KEY_ID)).first()
    if row is None:
        master = master_keys()
        raw = os.urandom(32)
        insert = (postgresql.insert(t) if connection.dialect.name == "postgresql" else sqlite.insert(t)).values(
            id=REGISTER_KEY_ID, owner="register", master_key_id=master.active,
            wrapped=_wrap(master.keys[master.active], master.active, REGISTER_KEY_ID, raw),
            created_at=dt.datetime.now(dt.timezone.utc))
        # Two first registrations at once: one key is kept, and both read it back.
        connection.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
        row = connection.execute(select(t.c.master_key_id, t.c.wrapped).where(t.c.id == REGISTER_KEY_ID)).one()
    wrapped = bytes(row.wrapped)
    held = _register_secret
    if held is not None and held[0] == wrapped:  # the same row as last time (a rotation or a new database: not)
        return held[1]
    secret = master_keys().keys.get(row.master_key_id)
    if secret is None:
        raise KeyUnavailable(f"the client register's key is wrapped by master key '{row.master_key_id}', which is "
                             "not configured here; see docs/operations.md, \"Keys\"")
    raw = _unwrap(secret, row.master_key_id, REGISTER_KEY_ID, wrapped)
    _register_secret = (wrapped, raw)
    return raw


def register_hmac(bind, message: str) -> str:
    """A keyed hash (HMAC-SHA256, hex) under the register's secret."""
    return hmac.new(register_secret(bind), message.encode("utf-8"), hashlib.sha256).hexdigest()


def is_sealed(value: bytes | None) -> bool:
    return value is not None and value[:len(MAGIC)] == MAGIC


def seal(bind, key_id: str, plain: bytes, what: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return MAGIC + uuid.UUID(key_id).bytes + nonce + _cipher(bind, key_id).encrypt(nonce, plain, what)


def key_of(value: bytes) -> str:
    return value[len(MAGIC):_HEADER].hex()


def open_sealed(bind, value: bytes, what: bytes) -> bytes:
    """The plain bytes of a sealed value; an unsealed one (written before sealing existed) as it is."""
    if not is_sealed(value):
        return value
    key_id = key_of(value)
    try:
        return _cipher(bind, key_id).decrypt(value[_HEADER:_HEADER + _NONCE], value[_HEADER + _NONCE:], what)
    except InvalidTag:
        raise KeyUnavailable(f"a value sealed under data key {key_id} does not open as {what.decode()}: it was "
                             "altered or moved") from None


def open_held(value: bytes, what: bytes) -> bytes:
    """``open_sealed`` with the data keys this process holds already (made or read here), for code with no
    database at hand; a key it does not hold is a KeyUnavailable."""
    if not is_sealed(value):
        return value
    key_id = key_of(value)
    cipher = _data.get(key_id)
    if cipher is None:
        raise KeyUnavailable(f"data key {key_id} is not held by this process: open the value with the database")
    try:
        return cipher.decrypt(value[_HEADER:_HEADER + _NONCE], value[_HEADER + _NONCE:], what)
    except InvalidTag:
        raise KeyUnavailable(f"a value sealed under data key {key_id} does not open as {what.decode()}") from None


def seal_text(bind, key_id: str, text: str | None, what: bytes) -> str | None:
    if text is None:
        return None
    return TEXT_PREFIX + base64.b64encode(seal(bind, key_id, text.encode("utf-8"), what)).decode("ascii")


def open_text(bind, value: str | None, what: bytes) -> str | None:
    if value is None or not value.startswith(TEXT_PREFIX):
        return value
    return open_sealed(bind, base64.b64decode(value[len(TEXT_PREFIX):]), what).decode("utf-8")


def seal_json_text(bind, key_id: str, json_text: str, what: bytes) -> dict:
    """A JSON column's sealed form (``{"sealed": base64}``), from the value's JSON text."""
    return {SEALED: base64.b64encode(seal(bind, key_id, json_text.encode("utf-8"), what)).decode("ascii")}


def is_sealed_json(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def open_json_text(bind, value, what: bytes) -> str | None:
    """The JSON text a sealed JSON column holds; None when the value is not sealed."""
    if not is_sealed_json(value):
        return None
    return open_sealed(bind, base64.b64decode(value[SEALED]), what).decode("utf-8")


def seal_json(bind, key_id: str | None, value, what: bytes):
    """A JSON column's value sealed under ``key_id`` (as it is without a key, or when None)."""
    if key_id is None or value is None:
        return value
    return seal_json_text(bind, key_id, json.dumps(value, separators=(",", ":"), ensure_ascii=False), what)


def open_json(bind, value, what: bytes):
    """A JSON column's value as written: a sealed one opened, any other as it is."""
    text = open_json_text(bind, value, what)
    return value if text is None else json.loads(text)


def destroy(bind, key_id: str | None, at: dt.datetime) -> bool:
    """Crypto-shredding: the data key's wrapped bytes gone, so nothing sealed under it opens again."""
    if key_id is None:
        return False
    t = _table()
    result = _connection(bind).execute(update(t).where(t.c.id == key_id, t.c.destroyed_at.is_(None))
                                       .values(wrapped=None, destroyed_at=at))
    _data.pop(key_id, None)
    return bool(result.rowcount)


def rotate(bind) -> dict:
    """Every live data key not under the active master key re-wrapped under it (the data stays as it is)."""
    master = master_keys()
    t = _table()
    connection = _connection(bind)
    rows = connection.execute(select(t.c.id, t.c.master_key_id, t.c.wrapped)
                              .where(t.c.destroyed_at.is_(None), t.c.master_key_id != master.active)).all()
    missing = sorted({r.master_key_id for r in rows} - set(master.keys))
    if missing:
        raise KeyUnavailable(f"data keys are wrapped by master key(s) {', '.join(missing)}, not configured here: "
                             "add them to the key file (after the new one) before rotating")
    new, secret = master.active, master.keys[master.active]
    for r in rows:
        raw = _unwrap(master.keys[r.master_key_id], r.master_key_id, r.id, bytes(r.wrapped))
        connection.execute(update(t).where(t.c.id == r.id).values(master_key_id=new,
                                                                   wrapped=_wrap(secret, new, r.id, raw)))
    return {"master_key": new, "rewrapped": len(rows)}


def status(bind) -> dict:
    """The configured master keys and how many data keys each wraps; problems an operator must act on."""
    t = _table()
    counts = _connection(bind).execute(select(t.c.master_key_id, t.c.destroyed_at.is_(None), func.count())
                                       .group_by(t.c.master_key_id, t.c.destroyed_at.is_(None))).all()
    try:
        master: MasterKeys | None = master_keys()
        problem = None
    except KeyUnavailable as e:
        master, problem = None, e.message
    live: dict[str, int] = {}
    destroyed = 0
    for row in counts:
        master_id, is_live, n = str(row[0]), bool(row[1]), int(row[2])
        if is_live:
            live[master_id] = live.get(master_id, 0) + n
        else:
            destroyed += n
    configured = list(master.keys) if master else []
    problems = [problem] if problem else []
    problems += [f"{n} data key(s) are wrapped by master key '{m}', which is not configured"
                 for m, n in sorted(live.items()) if m not in configured]
    return {"source": master.source if master else None, "active": master.active if master else None,
            "master_keys": [{"id": m, "active": i == 0, "data_keys": live.get(m, 0)}
                            for i, m in enumerate(configured)],
            "destroyed_data_keys": destroyed, "problems": problems,
            "rotation_pending": sum(n for m, n in live.items() if master is None or m != master.active)}
