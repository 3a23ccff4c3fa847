"""Forgetting a user, and storing user ids pseudonymised.

Where a user lives in a database: their `events` (ids, and the words of their comments and searches), their stored
`recommendations`, and the saved model in `models` (their id, their row of the interaction matrix, their embedded
words). In a process: the loaded model (reelmind.recommend) and embeddings of users' words (reelmind.recsys.content).
`forget_user` removes all of it, including the old table versions and data files that still hold rows a delete
only hides (`Store.purge`). The model is deleted rather than refitted: that is correct at once and cannot fail,
while a refit needs the text model, a catalogue and the model kind the recommend flow chose; the next on-demand
request or recommend run fits a new one from events that no longer hold the user, and other users' stored picks
are served meanwhile. Thumbnails (per video) and the watcher's state (paths) hold nothing about users. Versions
before the `models` table pickled the model into `models/recommender.pkl` beside the database: that file is never
read now, and it is deleted unread (reading a pickle to look for the user could run code).

With `pseudonymise_user_ids` on, every user id entering ReelMind goes through `store_user_id` (a keyed hash), so
the raw id is never written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from reelmind.config import Settings, SettingsError
from reelmind.records import EventRecord, ModelRecord, RecommendationRecord, Record
from reelmind.store import Store, sql_in, sql_str

# Hex digits of the HMAC kept as the stored id: 128 bits, so no two users of any real population collide.
PSEUDONYM_HEX_CHARS = 32
# The shortest key accepted: with a short one, whoever holds the database could guess it and then recover ids by
# hashing candidate names.
MIN_KEY_CHARS = 16
# Where ReelMind before the `models` table kept the fitted model (every user's row in it), beside the database.
LEGACY_MODEL_FILE = Path("models") / "recommender.pkl"


@dataclass(frozen=True)
class Purged:
    """One table's part of forgetting: rows removed, and old versions removed with the files only they held."""
    table: str
    rows: int
    versions: int


@dataclass(frozen=True)
class ForgetReport:
    user_id: str
    tables: tuple[Purged, ...]

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.tables)


def store_user_id(raw: str, settings: Settings | None) -> str:
    """The id under which `raw` is stored: itself, or with `pseudonymise_user_ids` on, HMAC-SHA256(key, raw) as hex.
    Called wherever a user id enters ReelMind; None (a library caller without settings) stores ids as given."""
    if settings is None or not settings.pseudonymise_user_ids:
        return raw
    key = settings.user_id_key
    if len(key) < MIN_KEY_CHARS:  # the message must not echo the key
        raise SettingsError(f"pseudonymise_user_ids is on but user_id_key is {'too short' if key else 'not set'}: "
                            f"set REELMIND_USER_ID_KEY (at least {MIN_KEY_CHARS} characters)")
    return hmac.new(key.encode(), raw.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]


def forget_user(store: Store, user_id: str) -> ForgetReport:
    """Remove the user (their stored id) from every table and every old version, and from this process's caches.
    Idempotent: forgetting again removes nothing and cleans up whatever an interrupted run left."""
    who = sql_str(user_id)
    tables = (_purge(store, EventRecord, f"user_id = {who}"),
              _purge(store, RecommendationRecord, f"user_id = {who}"),
              _purge(store, ModelRecord, _models_holding(store, user_id)))
    tables += _remove_legacy_model(store)
    _forget_cached(store)
    return ForgetReport(user_id, tables)


def _purge(store: Store, record: type[Record], where: str | None) -> Purged:
    rows, versions = store.purge(record, where)
    return Purged(record.table, rows, versions)


def _remove_legacy_model(store: Store) -> tuple[Purged, ...]:
    """Delete an old version's pickled model beside a local database, if there is one."""
    path = Path(store.uri).parent / LEGACY_MODEL_FILE
    if "://" in store.uri or not path.is_file():
        return ()
    path.unlink()
    return (Purged(str(LEGACY_MODEL_FILE), 1, 0),)


def _models_holding(store: Store, user_id: str) -> str | None:
    """A filter for the saved models that name the user (their ids are in the JSON document), or None."""
    spelt = json.dumps(user_id, ensure_ascii=False)  # as the document spells it (saving.SavedModel.document_json)
    names = [r["name"] for r in store.rows(ModelRecord, ["name", "active_users", "document"])
             if user_id in (r["active_users"] or []) or spelt in r["document"]]
    return f"name IN {sql_in(names)}" if names else None


def _forget_cached(store: Store) -> None:
    # Imported here: reelmind.recommend imports reelmind.events, which imports this module.
    from reelmind.recommend import forget_loaded
    from reelmind.recsys.content import forget_embedded_words

    forget_loaded(store)
    forget_embedded_words()
