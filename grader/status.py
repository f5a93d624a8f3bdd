"""``status.json``: the grader's verdict on every submission (graded, flagged or failed, why, where, how long).

A run appends each new entry to ``status.journal`` (a JSON line, flushed) and rewrites ``status.json``
from it every few seconds and when the run ends. Rewriting the whole file after every submission
grew with the square of the class (59 ms a write at 5,500 entries: 160 s of a whole course's run).
Readers call ``read_status``, which replays the journal, so a driver stopped half-way loses nothing
it recorded (``--resume``), and what status.json shows lags a run by a few seconds at most.
"""
import json
import os
import time
from pathlib import Path

FILE, JOURNAL = "status.json", "status.journal"
SAVE_EVERY = 5.0  # seconds between rewrites of status.json during a run


def read_status(workdir):
    """Every submission's entry: ``status.json`` with the journal of a run in progress (or stopped) applied."""
    workdir = Path(workdir)
    entries = json.loads((workdir / FILE).read_text()) if (workdir / FILE).exists() else {}
    journal = workdir / JOURNAL
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                key, entry = json.loads(line)
            except ValueError:  # the last line, cut short when the driver was killed while writing it
                continue
            entries[key] = entry
    return entries


class Status:
    """The run's writer: ``status[key] = entry`` records one submission; ``close`` leaves status.json whole."""

    def __init__(self, workdir):
        self.path, self.journal_path = Path(workdir) / FILE, Path(workdir) / JOURNAL
        self.entries = read_status(workdir)
        self.journal = open(self.journal_path, "a")
        self.save()  # folds in what a stopped run left in the journal

    def __setitem__(self, key, entry):
        self.entries[key] = entry
        self.journal.write(json.dumps([key, entry]) + "\n")
        self.journal.flush()
        if time.monotonic() - self.saved > SAVE_EVERY:
            self.save()

    def get(self, key):
        return self.entries.get(key)

    def save(self):
        """Rewrite status.json (atomically), then empty the journal: everything in it is in the file now."""
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(temporary, self.path)
        self.journal.truncate(0)
        self.saved = time.monotonic()

    def close(self):
        if self.journal.closed:
            return
        self.save()
        self.journal.close()
        self.journal_path.unlink()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
