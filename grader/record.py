"""The driver's record of a run: the instructor's gradebook and the autograded copies.

Only the driver writes these, whatever engine graded, so the gradebook never has concurrent writers.
The gradebook is written by nbgrader's own steps, run on the autograded notebook a worker sent back
over one connection the driver keeps open for the run:
``SaveAutoGrades`` (the cells' scores and comments), the course's policy deductions, then
``AssignLatePenalties`` (on the score after deductions). The formgrader reads it as if
``nbgrader autograde`` had run here. A notebook's record is committed whole; ``grader.status`` keeps
the verdicts.
"""
import shutil
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import nbformat

from grader.course import SOLUTIONS, nbgrader_config, notebook_name


def timestamp(sub):
    """The submission's ``timestamp.txt`` text (nbgrader's exchange writes one), or None."""
    path = Path(sub.folder) / "timestamp.txt"
    return path.read_text() if path.is_file() else None


def withdraw_points(gb, sub):
    """Apply policy deductions: the named test cells score 0, whatever the tests said."""
    notebook = gb.find_submission(sub.assignment, sub.student).notebooks[0]
    for grade in notebook.grades:
        if grade.name in sub.deductions:
            grade.auto_score = 0
    gb.db.commit()


class OneCommit:
    """A database session whose ``commit`` only flushes: nbgrader's steps commit after every cell (on SQLite a
    write to disk each time); the driver commits once per notebook instead."""

    def __init__(self, session):
        self.session = session

    def commit(self):
        self.session.flush()

    def __getattr__(self, name):
        return getattr(self.session, name)


class KeptGradebook:
    """nbgrader's Gradebook, opened once for the whole run: the outermost ``with`` commits (or rolls back, which
    makes a notebook's record all or nothing) instead of closing.

    nbgrader's steps open a Gradebook of their own on every notebook; each is a new SQLAlchemy engine, which
    compiles every query again. The steps' own commits (``gradebook.db.commit()``) reach ``OneCommit``.
    """

    def __init__(self, db_url):
        from nbgrader.api import Gradebook

        self.gradebook = Gradebook(db_url)
        self.db = OneCommit(self.gradebook.db)
        self.depth = 0  # nbgrader's steps enter it again inside the driver's own ``with``

    def __getattr__(self, name):  # everything else is the Gradebook's
        return getattr(self.gradebook, name)

    def __enter__(self):
        self.depth += 1
        return self

    def __exit__(self, kind, value, traceback):
        self.depth -= 1
        if kind is not None:
            self.gradebook.db.rollback()
        elif self.depth == 0:
            self.gradebook.db.commit()
        return False

    def close(self):
        self.gradebook.close()


@contextmanager
def steps_on(kept):
    """While inside, nbgrader's SaveAutoGrades and AssignLatePenalties use ``kept`` instead of opening their own."""
    from nbgrader.preprocessors import latesubmissions, saveautogrades

    def opened(db_url):
        return kept

    with patch.object(saveautogrades, "Gradebook", opened), patch.object(latesubmissions, "Gradebook", opened):
        yield


class Recorder:
    """Enters submissions in the instructor's gradebook, with nbgrader's steps, over one connection for the run."""

    def __init__(self, workdir, config):
        """``config`` is the driver's nbgrader configuration (it carries the late-penalty plugin)."""
        self.workdir, self.config = Path(workdir), config
        self.db_url = config.CourseDirectory.db_url
        self.kept = KeptGradebook(self.db_url)

    def close(self):
        self.kept.close()

    def record(self, sub, autograded):
        """Enter ``sub`` and, when it was graded, its scores and its autograded copy.

        ``autograded`` is the notebook's JSON text from the worker (None: not graded).
        """
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
        from nbgrader.utils import parse_utc

        folder = self.workdir / "autograded" / sub.student / sub.assignment
        shutil.rmtree(folder, ignore_errors=True)
        stamp = timestamp(sub)
        with self.kept as gb:
            gb.update_or_create_student(sub.student)
            when = parse_utc(stamp.strip()) if stamp and stamp.strip() else None
            gb.update_or_create_submission(sub.assignment, sub.student, **({"timestamp": when} if when else {}))
        if autograded is None:
            return
        nb = nbformat.reads(autograded, as_version=4)
        resources = {"nbgrader": {"notebook": Path(notebook_name(sub.assignment)).stem, "assignment": sub.assignment,
                                  "student": sub.student, "db_url": self.db_url}}
        with steps_on(self.kept), self.kept as gb:
            SaveAutoGrades(config=self.config).preprocess(nb, resources)
            if sub.deductions:
                withdraw_points(gb, sub)
            AssignLatePenalties(config=self.config).preprocess(nb, resources)
        folder.mkdir(parents=True)
        for given in sorted((SOLUTIONS / sub.assignment).iterdir()):  # the data files, as nbgrader copies them there
            if given.is_file() and given.suffix != ".ipynb":
                shutil.copyfile(given, folder / given.name)
        (folder / notebook_name(sub.assignment)).write_text(autograded)
        if stamp is not None:
            (folder / "timestamp.txt").write_text(stamp)


def driver_config(workdir):
    """The nbgrader configuration the driver records with: the instructor's gradebook and the late policy."""
    from grader import late

    config = nbgrader_config(workdir)
    late.configure(config, workdir)
    return config
