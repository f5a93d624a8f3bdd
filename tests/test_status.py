"""status.json and its journal (grader.status): nothing recorded is lost, and readers see it all."""
import json

from grader import status as status_module
from grader.status import JOURNAL, Status, read_status


def entry(n):
    return {"status": "graded", "reason": "", "seconds": n}


def test_entries_go_to_the_journal_at_once_and_to_status_json_at_most_every_few_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(status_module, "SAVE_EVERY", 3600.0)
    status = Status(tmp_path)
    for n in range(3):
        status[f"s{n}/a"] = entry(n)
    assert json.loads((tmp_path / "status.json").read_text()) == {}  # not rewritten per submission
    assert len((tmp_path / JOURNAL).read_text().splitlines()) == 3
    assert read_status(tmp_path) == {f"s{n}/a": entry(n) for n in range(3)}  # what readers see: everything
    status.close()
    assert json.loads((tmp_path / "status.json").read_text()) == {f"s{n}/a": entry(n) for n in range(3)}
    assert not (tmp_path / JOURNAL).exists()


def test_a_save_empties_the_journal(tmp_path, monkeypatch):
    monkeypatch.setattr(status_module, "SAVE_EVERY", 0.0)
    with Status(tmp_path) as status:
        status["s/a"] = entry(1)
        assert (tmp_path / JOURNAL).read_text() == ""
        assert json.loads((tmp_path / "status.json").read_text()) == {"s/a": entry(1)}
        status["s/a"] = entry(2)  # the later entry wins
    assert read_status(tmp_path) == {"s/a": entry(2)}


def test_a_run_killed_mid_line_loses_only_that_line_and_the_next_run_folds_the_journal_in(tmp_path, monkeypatch):
    monkeypatch.setattr(status_module, "SAVE_EVERY", 3600.0)
    status = Status(tmp_path)
    status["s1/a"] = entry(1)
    status["s2/a"] = entry(2)
    status.journal.write('["s3/a", {"status": "gra')  # killed while writing: no close, a torn last line
    status.journal.flush()
    assert read_status(tmp_path) == {"s1/a": entry(1), "s2/a": entry(2)}
    with Status(tmp_path) as again:  # --resume
        assert again.get("s2/a") == entry(2)
        assert json.loads((tmp_path / "status.json").read_text()) == {"s1/a": entry(1), "s2/a": entry(2)}
        again["s3/a"] = entry(3)
    assert read_status(tmp_path) == {f"s{n}/a": entry(n) for n in (1, 2, 3)}


def test_no_status_yet_reads_as_nothing(tmp_path):
    assert read_status(tmp_path) == {}
