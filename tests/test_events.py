"""User events: import all or nothing, with every bad row named; idempotent; one-off adds."""

from __future__ import annotations

import json
import shutil

import pytest

from reelmind.cli import main
from reelmind.events import EventError, import_events, load_events, parse_timestamp
from reelmind.store import Store

from helpers import FIXTURES


@pytest.fixture()
def db(fixtures_db, tmp_path):
    """A private copy of the ingested fixtures database, so events written here stay here."""
    source, _ = fixtures_db
    copy = tmp_path / "lancedb"
    shutil.copytree(source, copy)
    return str(copy)


def test_demo_log_imports_once(db):
    store = Store(db)
    assert import_events(FIXTURES / "demo_events.csv", store) == 15
    assert import_events(FIXTURES / "demo_events.csv", store) == 0  # same content, same ids: nothing new
    events = load_events(store)
    assert {e["user_id"] for e in events} == {"alice", "bob", "chen", "dana"}
    ids = {v["id"] for v in store.videos(["id"])}
    assert all(e["video_id"] in ids for e in events if e["event"] != "search")
    chen = [e for e in events if e["user_id"] == "chen" and e["event"] == "comment"]
    assert chen[0]["text"] == "火箭发射太壮观了"


def test_bad_rows_are_all_named_and_nothing_is_written(db, tmp_path):
    store = Store(db)
    video_id = store.videos(["id"])[0]["id"]
    bad = tmp_path / "events.csv"
    bad.write_text("user_id,video_id,event,timestamp,watch_fraction\n"
                   f"u1,{video_id},view,1700000000,0.5\n"          # fine
                   "u1,no-such-video,view,1700000000,\n"           # row 3: unknown video
                   f"u2,{video_id},view,yesterday,\n"              # row 4: bad timestamp
                   f"u3,{video_id},teleport,1700000000,\n"         # row 5: unknown event
                   f"u4,{video_id},view,1700000000,1.5\n"          # row 6: fraction out of range
                   f",{video_id},view,1700000000,\n")              # row 7: missing user
    with pytest.raises(EventError) as caught:
        import_events(bad, store)
    message = str(caught.value)
    assert message.splitlines()[0] == f"{bad}: 5 bad row(s); nothing was imported"
    for row, reason in [(3, "unknown video 'no-such-video'"), (4, "neither Unix seconds nor ISO 8601"),
                        (5, "event 'teleport' is not one of"), (6, "outside 0..1"), (7, "missing user_id")]:
        assert any(line.startswith(f"{bad}:{row}: ") and reason in line for line in caught.value.errors), row
    assert load_events(store) == []


def test_json_lines_and_malformed_lines(db, tmp_path):
    store = Store(db)
    video_id = store.videos(["id"])[0]["id"]
    good = tmp_path / "events.jsonl"
    good.write_text(json.dumps({"user_id": "u1", "video_id": video_id, "event": "like",
                                "timestamp": "2026-01-02T03:04:05+08:00"}) + "\n" +
                    json.dumps({"user_id": "u1", "video_id": "", "event": "search", "timestamp": 1767225600,
                                "text": "宇航员"}) + "\n")
    assert import_events(good, store) == 2
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"user_id": "u1"\n[1, 2]\n')
    with pytest.raises(EventError) as caught:
        import_events(broken, store)
    assert [e.split(": ", 1)[0] for e in caught.value.errors] == [f"{broken}:1", f"{broken}:2"]
    header = tmp_path / "no_header.csv"
    header.write_text("user,video,when\nu1,v,1\n")
    with pytest.raises(EventError, match="header lacks required column"):
        import_events(header, store)


def test_timestamps():
    assert parse_timestamp("0").isoformat() == "1970-01-01T00:00:00+00:00"
    assert parse_timestamp("2026-11-23T10:00:00").isoformat() == "2026-11-23T10:00:00+00:00"
    assert parse_timestamp("2026-11-23T10:00:00Z") == parse_timestamp(1795428000)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1e20", "1e20", "-1", "0001-01-01", "9999-12-31T00:00:00"])
def test_timestamps_outside_the_sane_range_are_refused(value):
    with pytest.raises(ValueError, match=rf"^timestamp '{value}' is not between 1970-01-01 and \d{{4}}-\d\d-\d\d"):
        parse_timestamp(value)


def test_a_repeated_csv_column_is_refused(tmp_path):
    store = Store(str(tmp_path / "lancedb"))
    repeated = tmp_path / "events.csv"
    repeated.write_text("user_id,video_id,event,timestamp,user_id\nu1,,search,1700000000,u2\n")
    with pytest.raises(EventError) as caught:
        import_events(repeated, store)
    assert caught.value.errors == [f"{repeated}: header repeats column 'user_id'"]
    assert load_events(store) == []


def test_rows_with_bad_timestamps_are_each_named(tmp_path):
    store = Store(str(tmp_path / "lancedb"))
    bad = tmp_path / "events.csv"
    bad.write_text("user_id,video_id,event,timestamp,text\nu1,,search,1700000000,ok\nu1,,search,inf,x\n"
                   "u2,,search,-1e20,y\n")
    with pytest.raises(EventError) as caught:
        import_events(bad, store)
    assert [e.split(": ", 1)[0] for e in caught.value.errors] == [f"{bad}:3", f"{bad}:4"]
    assert load_events(store) == []


def test_cli_import_add_and_list(db, capsys):
    assert main(["events", "import", str(FIXTURES / "demo_events.csv"), "--db", db]) == 0
    assert "15 new events" in capsys.readouterr().out
    assert main(["events", "add", "--user", "erin", "--video", "tomato_soup_recipe.mp4", "--event", "like",
                 "--db", db]) == 0
    assert main(["events", "add", "--user", "erin", "--video", "nope.mp4", "--event", "like", "--db", db]) == 1
    assert "unknown video 'nope.mp4'" in capsys.readouterr().err
    assert main(["events", "list", "--user", "erin", "--db", db]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["event"] for r in rows] == ["like"]
    assert main(["events", "import", "/nonexistent.csv", "--db", db]) == 1
