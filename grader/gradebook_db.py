"""Which database holds a working folder's gradebook: nbgrader's SQLite file, or a server given by ``--db URL``.

The URL comes from, in this order: ``$RNN_COURSE_DB`` (``--db`` sets it for the command and the
processes it starts), ``WORKDIR/gradebook-url.txt`` (written by ``autograde --db``, so that later
commands on the same folder use the same database), else ``sqlite:///WORKDIR/gradebook.db``.
The file never holds a password: libpq reads it from ``~/.pgpass`` or ``$PGPASSWORD``. Grading
kernels get none of these variables (``grader.limited_kernel.SECRET_ENV``), and the sandbox hides the server's socket folder.
"""
import os
from pathlib import Path

ENV = "RNN_COURSE_DB"
URL_FILE = "gradebook-url.txt"
LIBPQ_SOCKET_FOLDER = "/var/run/postgresql"  # libpq's default on Debian when the URL names no host


class BadURL(ValueError):
    """A --db URL that cannot be used (CourseError's message; no import of grader.course here: no cycle)."""


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
    return parsed


def safe(url):
    """The URL as text with any password replaced by ***, for messages and the URL file."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unreadable URL>"


def remember(workdir, url):
    """Record ``url`` (without its password) as the working folder's gradebook; True if a password was left out."""
    parsed = parse(url)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    # as written when it has no password; else re-rendered without it (URL.set(password=None) would keep it)
    text = url if parsed.password is None else parsed._replace(password=None).render_as_string(hide_password=False)
    (folder / URL_FILE).write_text(text + "\n")
    return parsed.password is not None


def gradebook_url(workdir):
    """The gradebook's URL for this working folder (see the module's docstring for the order)."""
    workdir = Path(workdir).resolve()
    if os.environ.get(ENV):
        return os.environ[ENV]
    stored = workdir / URL_FILE
    if stored.is_file() and stored.read_text().strip():
        return stored.read_text().strip()
    return f"sqlite:///{workdir / 'gradebook.db'}"


def socket_folders(url):
    """Existing folders of the Unix sockets a PostgreSQL URL connects through: a grading kernel must not see them.

    Peer and trust authentication on a local socket would let student code in the kernel log in as the grader.
    """
    parsed = parse(url)
    if not parsed.get_backend_name().startswith("postgresql"):
        return []
    hosts = parsed.query.get("host") or parsed.host or os.environ.get("PGHOST") or LIBPQ_SOCKET_FOLDER
    hosts = [hosts] if isinstance(hosts, str) else list(hosts)
    folders = [h for part in hosts for h in part.split(",") if h.startswith("/")]
    return [str(Path(f).resolve()) for f in folders if Path(f).is_dir()]
