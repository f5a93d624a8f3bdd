"""Copy the built site to the folder that gets published, after proving it gives nothing away."""
import shutil
from pathlib import Path

from grader.course import CourseError
from grader.leaks import all_secret_lines, leaked, visible_text

NOT_PUBLISHED = (".buildinfo", ".doctrees", "reports")  # build bookkeeping and execution error logs


class LeakError(CourseError):
    """A solution or hidden-test line is in the built site."""


def publish(site, out):
    """Check every page and notebook under ``site`` for secret lines, then copy it to ``out``."""
    site, out = Path(site), Path(out)
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no built site at {site}: run `make site` first")
    secrets = all_secret_lines()
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix in (".html", ".ipynb", ".md", ".txt") and "_static" not in path.parts:
            text = path.read_text(errors="replace")
            hits = leaked(secrets, visible_text(text) if path.suffix == ".html" else text)
            found += [f"{path.relative_to(site)}: {line}" for line in hits]
    if found:
        raise LeakError("not published, these lines must not reach students:\n" + "\n".join(found[:20]))
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(site, out, ignore=shutil.ignore_patterns(*NOT_PUBLISHED))
    return out
