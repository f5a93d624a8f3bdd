"""Late work, the way nbgrader does it: a due date per assignment, the submission's ``timestamp.txt``
(nbgrader's exchange writes one on ``submit``; ``collect`` keeps it), and a penalty plugin.

The instructor gives due dates and a penalty when grading (``--duedate``, ``--late-penalty``); the
driver stores the due dates in the gradebook and the penalty in ``WORKDIR/late_policy.json``,
which every worker's nbgrader configuration reads. nbgrader's ``AssignLatePenalties`` step then
records each notebook's penalty in the gradebook, and ``grades.csv`` shows it.
"""
import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float, Unicode

from grader.course import CourseError

POLICY_FILE = "late_policy.json"
PER_DAY = re.compile(r"^(?P<percent>\d+(\.\d+)?)%/day$")
DAY = 86400.0


def parse_penalty(spec):
    """'none' | 'zero' | 'P%/day' -> the policy dict workers read; a clear error otherwise."""
    spec = (spec or "none").strip()
    if spec in ("none", "zero"):
        return {"method": spec, "percent_per_day": 0.0}
    m = PER_DAY.match(spec)
    if not m or not 0 < float(m["percent"]) <= 100:
        raise CourseError(f"--late-penalty {spec!r}: use none, zero, or a percentage per started day, e.g. 10%/day")
    return {"method": "per_day", "percent_per_day": float(m["percent"])}


def parse_when(text):
    """ISO 8601 with a time zone ('2026-12-08 17:00+01:00', '...Z') -> naive UTC, as nbgrader stores it.

    Not nbgrader's ``parse_utc``: measured here (nbgrader 0.9.6) it ignores ' +01:00' and reads
    ' +0100' as 100 seconds, so a due date would silently move by an hour.
    """
    text = re.sub(r"\s*(Z|UTC)$", "+00:00", text.strip())
    text = re.sub(r"\s+([+-]\d\d:?\d\d)$", r"\1", text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no time zone: add one, e.g. +01:00 or Z for UTC")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def parse_duedates(items, known):
    """['ch04_x=2026-12-08 17:00+01:00', '2026-12-15 09:00Z'] -> {assignment: naive UTC datetime}.

    An item without ``NAME=`` applies to every assignment that has no date of its own.
    """
    dated, default = {}, None
    for item in items or ():
        name, sep, when = item.partition("=")
        if not sep:
            name, when = None, item
        elif name not in known:
            raise CourseError(f"--duedate {item!r}: no assignment {name!r} (known: {', '.join(known)})")
        try:
            moment = parse_when(when)
        except (ValueError, OverflowError) as err:
            raise CourseError(f"--duedate {item!r}: not a date and time ({err})") from None
        if name is None:
            default = moment
        else:
            dated[name] = moment
    return {a: dated.get(a, default) for a in known if dated.get(a, default) is not None}


def penalty(policy, score, seconds_late):
    """Points taken off a notebook that scored ``score``, ``seconds_late`` after its due date."""
    if seconds_late <= 0 or policy["method"] == "none":
        return 0.0
    if policy["method"] == "zero":
        return score
    days = math.ceil(seconds_late / DAY)
    return min(score, score * policy["percent_per_day"] / 100 * days)


class CoursePenalty(LateSubmissionPlugin):
    """nbgrader's late-penalty plugin for this course: none, zero, or a percentage per started day."""

    method = Unicode("none").tag(config=True)
    percent_per_day = Float(0.0).tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        policy = {"method": self.method, "percent_per_day": self.percent_per_day}
        return penalty(policy, score, total_seconds_late) if self.method != "none" else None


def write_policy(workdir, policy):
    (Path(workdir) / POLICY_FILE).write_text(json.dumps(policy))


def configure(config, workdir):
    """Point nbgrader's AssignLatePenalties at the course plugin with this run's policy (if any)."""
    path = Path(workdir) / POLICY_FILE
    if path.exists():
        policy = json.loads(path.read_text())
        config.AssignLatePenalties.plugin_class = "grader.late.CoursePenalty"
        config.CoursePenalty.method = policy["method"]
        config.CoursePenalty.percent_per_day = policy["percent_per_day"]


def record_duedates(workdir, duedates):
    """Store each assignment's due date in the gradebook (where nbgrader and formgrader read it)."""
    from nbgrader.api import Gradebook

    from grader.course import nbgrader_config

    with Gradebook(nbgrader_config(workdir).CourseDirectory.db_url) as gb:
        for assignment, when in duedates.items():
            gb.update_or_create_assignment(assignment, duedate=when)
