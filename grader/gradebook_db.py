"""Which database holds a working folder's gradebook: nbgrader's SQLite file, or a server given by ``--db URL``.

The URL comes from, in this order: ``--db`` (for the command's own working folder only, see ``choose``),
``WORKDIR/gradebook-url.txt`` (written by ``autograde --db``, so that later commands on the same
folder use the same database), else ``sqlite:///WORKDIR/gradebook.db``. Any other folder, such as a
worker's scratch course, keeps its own SQLite file. A URL never carries a password (anyone on the
machine sees a command line, and the working folder is copied around): libpq reads it from
``~/.pgpass`` or ``$PGPASSWORD``, which no grading kernel gets (``grader.limited_kernel.SECRET_ENV``);
the sandbox also hides the server's socket folder (``socket_folders``).
"""
import os
from pathlib import Path

URL_FILE = "gradebook-url.txt"
LIBPQ_SOCKET_FOLDER = "/var/run/postgresql"  # libpq's default on Debian when the URL names no host
_chosen = {}  # resolved working folder -> the URL --db gave for it in this process


class BadURL(ValueError):
    """A --db URL that cannot be used (the CLI shows it as a CourseError; no grader.course import here: no cycle)."""


def parse(url):
    """The SQLAlchemy URL object for ``url``, or BadURL saying what is wrong with it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as err:
        raise BadURL(f"--db {safe(url)!r} is not a database URL SQLAlchemy knows ({err}); "
                     "e.g. postgresql+psycopg2://USER@/DBNAME?host=/SOCKET/FOLDER") from None
    except ImportError as err:
        raise BadURL(f"--db {safe(url)!r}: its driver is not installed ({err}); "
                     "PostgreSQL needs psycopg2-binary (in requirements.txt)") from None
    if parsed.password is not None:
        raise BadURL(f"--db {safe(url)!r} holds a password: every user of this machine can read a command line, and "
                     f"the URL is kept in the working folder's {URL_FILE}; put the password in ~/.pgpass or "
                     "$PGPASSWORD instead (PostgreSQL's client library reads both)")
    return parsed


def safe(url):
    """The URL as given, for messages; a password in it (a hand-written URL file) replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "<unreadable URL>"
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def choose(workdir, url, record=False):
    """Use ``url`` for ``workdir``'s gradebook in this process; with ``record``, also for later commands on it."""
    parse(url)
    workdir = Path(workdir).resolve()
    _chosen[workdir] = url
    if record:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / URL_FILE).write_text(url + "\n")


def gradebook_url(workdir):
    """The gradebook's URL for this working folder (see the module's docstring for the order)."""
    workdir = Path(workdir).resolve()
    if workdir in _chosen:
        return _chosen[workdir]
    stored = workdir / URL_FILE
    if stored.is_file() and stored.read_text().strip():
        return stored.read_text().strip()
    return f"sqlite:///{workdir / 'gradebook.db'}"


def socket_folders(url):
    """Existing folders of the Unix sockets a PostgreSQL URL connects through: a grading kernel must not see them.

    Peer and trust authentication on a local socket would let student code in the kernel log in as the grader.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("postgresql"):
        return []
    hosts = parsed.query.get("host") or parsed.host or os.environ.get("PGHOST") or LIBPQ_SOCKET_FOLDER
    hosts = [hosts] if isinstance(hosts, str) else list(hosts)
    folders = [h for part in hosts for h in part.split(",") if h.startswith("/")]
    return [str(Path(f).resolve()) for f in folders if Path(f).is_dir()]
