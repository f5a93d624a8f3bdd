"""Command line: ``python -m grader {release,autograde,feedback,export,publish,check,data} --help``."""
import argparse
import sys
from pathlib import Path

from grader.course import DEFAULT_WORKDIR, EXERCISES, CourseError, assignments


def _release(args):
    from grader.release import install_self_checks, release

    for path in install_self_checks(args.assignments):
        print(f"self-check cell updated in {path}")
    for path in release(args.assignments, out=args.out, workdir=args.workdir):
        print(f"released {path}")
    return 0


def _autograde(args):
    _scheduler_tls(args)
    from grader.autograde import autograde

    rows, grader_errors = autograde(args.submissions, args.workdir, jobs=args.jobs, timeout=args.timeout,
                                    csv_path=args.csv, progress=not args.quiet,
                                    memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds,
                                    sandbox_mode=args.sandbox, duedates=args.duedate,
                                    late_penalty=args.late_penalty, scheduler=args.scheduler,
                                    cluster=args.cluster, cluster_config=args.cluster_config,
                                    resume=args.resume, students=args.student)
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        if row["status"] != "graded":
            print(f"{row['status']:8} {row['student']}/{row['assignment']}: {row['reason']}")
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no submissions found")
    print(f"grades: {Path(args.csv) if args.csv else Path(args.workdir) / 'grades.csv'}")
    return 2 if grader_errors else 0


def _scheduler_tls(args):
    """--tls-* become the Dask client's TLS settings; a tls:// scheduler's missing or unloadable files stop the run now."""
    given = [name for name, value in (("--tls-ca-file", args.tls_ca_file), ("--tls-cert", args.tls_cert),
                                      ("--tls-key", args.tls_key)) if value is not None]
    if given and not (args.scheduler or "").startswith("tls://"):
        raise CourseError(f"{', '.join(given)}: only for --scheduler tls://HOST:PORT, a scheduler that uses TLS "
                          "(with --cluster slurm|pbs, tls_directory in the cluster configuration makes the keys)")
    if args.scheduler:
        from grader import dask_tls

        dask_tls.use_tls_files(args.tls_ca_file, args.tls_cert, args.tls_key)
        dask_tls.scheduler_security(args.scheduler)


def _feedback(args):
    from grader.feedback import generate_feedback

    written, problems = generate_feedback(args.workdir, args.student)
    for path in written:
        print(f"feedback {path}")
    for problem in problems:
        print(f"error    {problem}", file=sys.stderr)
    return 2 if problems else 0


def _export(args):
    from grader.export import export_grades

    rows = export_grades(args.workdir, args.csv)
    print(f"{len(rows)} rows -> {Path(args.csv) if args.csv else Path(args.workdir) / 'grades.csv'}")
    if args.format == "csv":
        return 0
    from grader.lms import write_lms

    if args.roster is None:
        raise CourseError(f"--format {args.format} needs --roster FILE (the course's student ids -> the LMS's)")
    out = args.out or Path(args.workdir) / f"grades-{args.format}.csv"
    path, problems = write_lms(rows, args.format, args.roster, out, identity=args.moodle_id, titles_path=args.titles)
    print(f"{args.format} import file -> {path}")
    for line in problems:
        print(f"note     {line}")
    if problems:
        print(f"(these notes are also in {path.with_suffix('.problems.txt')})")
    return 0


def _report(args):
    from grader.report import write_report

    pages = write_report(args.workdir, args.out)
    print(f"class report -> {pages[0]} ({len(pages) - 1} assignment page(s))")
    return 0


def _publish(args):
    from grader.publish import publish

    print(f"published {publish(args.site, args.out)}")
    return 0


def _check(args):
    from grader.check import check

    return check(args.notebook, timeout=args.timeout)


def _data(args):
    from grader import datasets

    if args.store:
        if sys.version.split()[0] != datasets.MEASURED_ON:
            print(f"error: the stored texts come from Python {datasets.MEASURED_ON}, on which the book's numbers were "
                  f"measured; this is {sys.version.split()[0]}", file=sys.stderr)
            return 2
        datasets.store_from_interpreter()
    for name, digest in datasets.recorded_sha256().items():
        print(f"{digest}  {datasets.DATA / datasets.STORED[name]}")
    print(f"{len(datasets.python_docs_text()):,} characters of documentation, "
          f"{len(datasets.docstring_corpus())} docstrings: both match their SHA-256")
    return 0


def parser():
    p = argparse.ArgumentParser(prog="python -m grader", description="The RNN course tools: release exercises, autograde submissions, write feedback, export grades, and the students' self-check.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    workdir = dict(type=Path, default=DEFAULT_WORKDIR,
                   help="working folder for the gradebook, autograded copies and feedback "
                        "(default: %(default)s, or $RNN_COURSE_WORKDIR)")
    db = dict(metavar="URL", help="the gradebook's database, e.g. postgresql+psycopg2://USER@/DBNAME?host=/SOCKET/FOLDER "
                                  "(default: the URL autograde --db stored in WORKDIR/gradebook-url.txt, else SQLite in "
                                  "WORKDIR/gradebook.db); no password in it: put that in ~/.pgpass or $PGPASSWORD")

    r = sub.add_parser("release", help="regenerate exercises/ from solutions/",
                       description="Generate the student notebooks from the nbgrader source notebooks in solutions/, "
                                   "after making the last cell of each source notebook the current self-check "
                                   "(grader/selfcheck.py).")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help=f"default: all ({', '.join(assignments())})")
    r.add_argument("--out", type=Path, default=EXERCISES, help="where to write (default: %(default)s)")
    r.add_argument("--workdir", **workdir)
    r.set_defaults(run=_release)

    a = sub.add_parser("autograde", help="grade a folder of submissions and write grades.csv",
                       description="Grade SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb. Every submission gets "
                                   "a status: graded, flagged (graded, but look at it) or failed (could not be graded, "
                                   "no score). Exits non-zero only if the grader itself breaks.")
    a.add_argument("submissions", type=Path, metavar="SUBMISSIONS")
    a.add_argument("--jobs", "-j", type=int, default=1,
                   help="parallel workers on this machine (or of --cluster local) (default: %(default)s)")
    where = a.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on a running Dask cluster: its scheduler's address (workers: `dask worker "
                            "tcp://HOST:PORT --nthreads 1`, with this course installed); tls://HOST:PORT for one "
                            "that uses TLS, with --tls-ca-file and --tls-cert")
    where.add_argument("--cluster", choices=["local", "slurm", "pbs"],
                       help="start a Dask cluster for this run: local (a LocalCluster of --jobs workers), or "
                            "workers as Slurm/PBS batch jobs (dask-jobqueue, configured by --cluster-config)")
    a.add_argument("--cluster-config", type=Path, metavar="FILE",
                   help="the batch cluster's settings for --cluster slurm|pbs (queue, cores, memory, walltime, "
                        "the Python to use; see README)")
    tls = "for --scheduler tls://...: {} (PEM); default: Dask's configuration distributed.comm.tls.{}"
    a.add_argument("--tls-ca-file", type=Path, metavar="FILE",
                   help=tls.format("the CA certificate that signed the scheduler's certificate", "ca-file"))
    a.add_argument("--tls-cert", type=Path, metavar="FILE",
                   help=tls.format("this grader's client certificate (its key may follow it in the file)",
                                   "client.cert"))
    a.add_argument("--tls-key", type=Path, metavar="FILE", help=tls.format("its private key", "client.key"))
    a.add_argument("--resume", action="store_true",
                   help="continue the last run (after Ctrl-C or a crash): keep what it recorded, grade the rest")
    a.add_argument("--student", action="append", metavar="ID",
                   help="grade only this student's submissions (repeatable); the others' records stay")
    a.add_argument("--timeout", type=int, default=30, help="seconds allowed per cell (default: %(default)s)")
    a.add_argument("--memory-mb", type=int, default=4096, help="memory cap per kernel, MB (default: %(default)s)")
    a.add_argument("--cpu-seconds", type=int, default=600,
                   help="CPU time per notebook; past it the kernel is killed (default: %(default)s)")
    a.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                   help="run kernels in bubblewrap: no network, no view of the course, the gradebook or other "
                        "students (auto: whenever this machine allows it; on: refuse to grade without it; "
                        "default: %(default)s)")
    a.add_argument("--duedate", action="append", metavar="[ASSIGNMENT=]WHEN",
                   help="due date with its time zone, e.g. 'ch04_recurrent_networks=2026-12-08 17:00+01:00' (without ASSIGNMENT=: "
                        "every assignment); kept in the gradebook; repeatable. A submission's lateness comes from "
                        "its timestamp.txt, as nbgrader's exchange writes it")
    a.add_argument("--late-penalty", default="none", metavar="none|zero|P%/day",
                   help="points taken off late work: none (lateness recorded only), zero, or P%% of the "
                        "notebook's score per started day, e.g. 10%%/day (default: %(default)s)")
    a.add_argument("--csv", type=Path, help="where to write the grades (default: WORKDIR/grades.csv)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.add_argument("--workdir", **workdir)
    a.add_argument("--db", **db)
    a.set_defaults(run=_autograde)

    f = sub.add_parser("feedback", help="write one HTML feedback file per student and assignment",
                       description="Write WORKDIR/feedback/<student>/<assignment>/<notebook>.html from the last "
                                   "autograde run: scores and failure messages, no hidden test code.")
    f.add_argument("--student", action="append", help="only this student (repeatable)")
    f.add_argument("--workdir", **workdir)
    f.add_argument("--db", **db)
    f.set_defaults(run=_feedback)

    e = sub.add_parser("export", help="rewrite grades.csv from the gradebook (after manual grading)",
                       description="Rewrite the grades CSV from the gradebook, including manual grades given since.")
    e.add_argument("--csv", type=Path, help="where to write (default: WORKDIR/grades.csv)")
    e.add_argument("--format", choices=["csv", "canvas", "moodle"], default="csv",
                   help="also write an LMS grade-import file: Canvas's gradebook CSV or Moodle's CSV grade "
                        "import (default: %(default)s, grades.csv only)")
    e.add_argument("--roster", type=Path,
                   help="CSV mapping the course's student ids to the LMS's: a 'student' column, and 'name', "
                        "'canvas_id', 'sis_user_id', 'sis_login_id', 'section' (Canvas) or 'email', 'idnumber', "
                        "'username' (Moodle)")
    e.add_argument("--moodle-id", choices=["email", "idnumber", "username"], default="email",
                   help="the roster column Moodle identifies students by (default: %(default)s)")
    e.add_argument("--titles", type=Path,
                   help="optional CSV 'assignment,title,lms_id': each assignment's name (and Canvas id) in the LMS")
    e.add_argument("--out", type=Path, help="the LMS file (default: WORKDIR/grades-FORMAT.csv)")
    e.add_argument("--workdir", **workdir)
    e.add_argument("--db", **db)
    e.set_defaults(run=_export)

    rp = sub.add_parser("report", help="write the class report: scores, parts, common mistakes (HTML + PNG)",
                        description="Write WORKDIR/report/index.html and one page per assignment from the last "
                                    "autograde run: score distribution, pass rate of every part, the most common "
                                    "named mistakes, flagged and failed submissions, grading time. Offline.")
    rp.add_argument("--out", type=Path, help="where to write (default: WORKDIR/report)")
    rp.add_argument("--workdir", **workdir)
    rp.set_defaults(run=_report)

    s = sub.add_parser("publish", help="copy the built site to the folder to publish, after a leak check",
                       description="Check that no solution or hidden-test line is in the built site, then copy "
                                   "it (without build reports) to OUT, e.g. for GitHub Pages.")
    s.add_argument("--site", type=Path, default=Path("_build/html"), help="the built site (default: %(default)s)")
    s.add_argument("--out", type=Path, default=Path("_build/publish"), help="where to copy it (default: %(default)s)")
    s.set_defaults(run=_publish)

    c = sub.add_parser("check", help="self-check a filled-in exercise notebook (for students)",
                       description="Run a notebook's visible tests and print each graded part's result. "
                                   "Exits 1 if any part fails or is not done.")
    c.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    c.add_argument("--timeout", type=int, default=60, help="seconds allowed per cell (default: %(default)s)")
    c.set_defaults(run=_check)

    d = sub.add_parser("data", help="check the course's stored texts (grader/data) and print their SHA-256",
                       description="Load the stored texts, check them against grader/data/SHA256SUMS and print "
                                   "the digests. With --store, first write them again from this Python "
                                   "(only on Python 3.11.7, the version the book was measured on).")
    d.add_argument("--store", action="store_true", help="rebuild grader/data from this interpreter first")
    d.set_defaults(run=_data)
    return p


def use_database(args):
    """--db URL: this command's working folder uses it; autograde also records it there for later commands."""
    from grader import gradebook_db

    try:
        gradebook_db.choose(args.workdir, args.db, record=args.command == "autograde")
    except gradebook_db.BadURL as err:
        raise CourseError(str(err)) from None


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if getattr(args, "db", None):
            use_database(args)
        return args.run(args)
    except (CourseError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        if type(err).__name__ != "OperationalError" or not type(err).__module__.startswith("sqlalchemy"):
            raise
        from grader.course import nbgrader_config
        from grader.gradebook_db import safe

        url = safe(nbgrader_config(getattr(args, "workdir", DEFAULT_WORKDIR)).CourseDirectory.db_url)
        print(f"error: cannot use the gradebook database {url}: {getattr(err, 'orig', err)}".rstrip(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
