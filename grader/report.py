"""The class report: how a class did on each assignment, and which named mistakes were common.

Reads what ``autograde`` left in the working folder (``grades.csv``, ``status.json`` and the
autograded notebooks, whose test cells hold the judges' messages) and writes one HTML page per
assignment plus a course page, with PNG figures beside them. The pages load nothing from the
network. Only messages that students also see in their feedback are quoted: never test code.
"""
import csv
import html
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import nbformat

from grader.course import CourseError, notebook_name
from grader.status import read_status

# diagnose() in grader.hidden_tests words every recognised mistake this way.
NAMED_MISTAKE = re.compile(r"your result matches (.+?)\.(?:\s|$)")
PART = re.compile(r"^(?P<name>[^=]+)=(?P<score>[^/]+)/(?P<max>.+)$")

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #888; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
th {{ background: #e8e8e8; }}
td.num {{ text-align: right; }}
img {{ max-width: 100%; }}
a {{ color: #0b4f9c; }}
</style></head>
<body><main>
<h1>{title}</h1>
{body}
</main></body></html>
"""


def read_rows(workdir):
    """The rows of ``grades.csv`` in the working folder."""
    path = Path(workdir) / "grades.csv"
    if not path.exists():
        raise CourseError(f"no grades in {Path(workdir).resolve()}: run `python -m grader autograde` first")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def parse_parts(text):
    """'a=1/2; b=?/3' -> [("a", 1.0, 2.0), ("b", None, 3.0)]; None = awaiting a manual grade."""
    parts = []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        m = PART.match(item)
        if m:
            score = None if m["score"] == "?" else float(m["score"])
            parts.append((m["name"], score, float(m["max"])))
    return parts


def named_mistakes(notebook_path):
    """(part, mistake) for every test cell of an autograded notebook whose message names a known mistake."""
    try:
        nb = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError):
        return []
    found = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                for mistake in NAMED_MISTAKE.findall(output.get("evalue", "")):
                    found.append((meta.get("grade_id", "?"), mistake))
    return sorted(set(found))


def summarise(workdir):
    """Per assignment: rows, part pass rates, mistake counts, problem rows and grading times."""
    workdir = Path(workdir)
    status = read_status(workdir)
    by_assignment = defaultdict(list)
    for row in read_rows(workdir):
        by_assignment[row["assignment"]].append(row)
    summary = {}
    for assignment, rows in sorted(by_assignment.items()):
        scored = [r for r in rows if r["status"] != "failed" and r["score"] != ""]
        parts = defaultdict(lambda: {"passed": 0, "graded": 0, "max": 0.0, "pending": 0})
        mistakes = Counter()
        for row in scored:
            for name, score, max_score in parse_parts(row["parts"]):
                entry = parts[name]
                entry["max"] = max_score
                if score is None:
                    entry["pending"] += 1
                else:
                    entry["graded"] += 1
                    entry["passed"] += score >= max_score
            autograded = workdir / "autograded" / row["student"] / assignment / notebook_name(assignment)
            mistakes.update(named_mistakes(autograded))
        seconds = [status[k]["seconds"] for k in (f"{r['student']}/{assignment}" for r in rows)
                   if k in status and "seconds" in status[k]]
        max_scores = [float(r["max_score"]) for r in rows if r["max_score"]]
        summary[assignment] = {
            "rows": rows,
            "scores": [float(r["score"]) for r in scored],
            "max_score": max(max_scores) if max_scores else None,
            "parts": dict(parts),
            "mistakes": mistakes.most_common(),
            "problems": [r for r in rows if r["status"] != "graded"],
            "seconds": seconds,
            "statuses": Counter(r["status"] for r in rows),
        }
    return summary


def _figure(path, draw):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    draw(ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(header, rows, numeric=()):
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{html.escape(str(v))}</td>' if i in numeric else f"<td>{html.escape(str(v))}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def assignment_page(out, assignment, s):
    """Write ``<assignment>.html`` and its figures; return the page's path."""
    from matplotlib.ticker import MaxNLocator

    n, scores, top = len(s["rows"]), s["scores"], s["max_score"]
    body = [f"<p>{n} submission(s): " + ", ".join(f"{c} {st}" for st, c in sorted(s["statuses"].items())) + ".</p>"]
    if scores:
        mean, median = statistics.mean(scores), statistics.median(scores)
        body.append(f"<p>Score: mean {mean:.2f}, median {median:g}, of {top:g} points "
                    f"({len(scores)} scored; failed submissions have no score).</p>")
        _figure(out / f"{assignment}_scores.png", lambda ax: (
            ax.hist(scores, bins=[x - 0.5 for x in range(int(top) + 2)], color="#3a6ea5", edgecolor="white"),
            ax.set_xlabel("score (points)"), ax.set_ylabel("submissions"), ax.set_title(f"{assignment}: scores"),
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))))
        alt = (f"Histogram of the scores of {len(scores)} scored submissions out of {top:g} points: "
               f"mean {mean:.2f}, median {median:g}.")
        body.append(f'<h2>Scores</h2><img src="{assignment}_scores.png" alt="{html.escape(alt)}">')
    parts = s["parts"]
    if parts:
        names = list(parts)
        rates = [parts[p]["passed"] / parts[p]["graded"] if parts[p]["graded"] else 0.0 for p in names]
        _figure(out / f"{assignment}_parts.png", lambda ax: (
            ax.barh(names[::-1], [100 * r for r in rates[::-1]], color="#5b8c3a"),
            ax.set_xlim(0, 100), ax.set_xlabel("full marks on the part (% of scored submissions)"),
            ax.set_title(f"{assignment}: pass rate per part")))
        worst = min(zip(rates, names))
        alt = (f"Bar chart of the share of submissions with full marks on each part; "
               f"the lowest is {worst[1]} at {100 * worst[0]:.0f}%.")
        body.append(f'<h2>Parts</h2><img src="{assignment}_parts.png" alt="{html.escape(alt)}">')
        body.append(_table(["part", "points", "full marks", "graded", "pass rate", "awaiting manual grade"],
                           [(p, f"{parts[p]['max']:g}", parts[p]["passed"], parts[p]["graded"],
                             f"{100 * r:.0f}%" if parts[p]["graded"] else "-", parts[p]["pending"])
                            for p, r in zip(names, rates)], numeric=(1, 2, 3, 4, 5)))
    body.append("<h2>Most common named mistakes</h2>")
    if s["mistakes"]:
        scored = max(len(scores), 1)
        body.append(_table(["part", "the submission's result matches", "submissions", "share"],
                           [(p, m, c, f"{100 * c / scored:.0f}%") for (p, m), c in s["mistakes"]],
                           numeric=(2, 3)))
    else:
        body.append("<p>No failure matched a known mistake.</p>")
    body.append("<h2>Flagged and failed submissions</h2>")
    body.append(_table(["student", "status", "score", "reason"],
                       [(r["student"], r["status"], r["score"] or "(none)", r["reason"]) for r in s["problems"]],
                       numeric=(2,)) if s["problems"] else "<p>None.</p>")
    if s["seconds"]:
        sec = s["seconds"]
        body.append(f"<h2>Grading time</h2><p>Per submission: mean {statistics.mean(sec):.2f} s, median "
                    f"{statistics.median(sec):.2f} s, longest {max(sec):.2f} s, over {len(sec)} submissions.</p>")
    body.append('<p><a href="index.html">All assignments</a></p>')
    page = out / f"{assignment}.html"
    page.write_text(PAGE.format(title=html.escape(f"Class report: {assignment}"), body="\n".join(body)))
    return page


def course_page(out, summary):
    rows = []
    for a, s in summary.items():
        mean = f"{statistics.mean(s['scores']):.2f}" if s["scores"] else "-"
        top = f"{s['max_score']:g}" if s["max_score"] is not None else "-"
        common = s["mistakes"][0] if s["mistakes"] else None
        rows.append((a, len(s["rows"]), mean, top, s["statuses"].get("flagged", 0), s["statuses"].get("failed", 0),
                     f"{common[0][1]} ({common[0][0]}, {common[1]})" if common else "-"))
    links = "".join(f'<li><a href="{html.escape(a)}.html">{html.escape(a)}</a></li>' for a in summary)
    body = (_table(["assignment", "submissions", "mean score", "of", "flagged", "failed", "most common named mistake"],
                   rows, numeric=(1, 2, 3, 4, 5)) + f"<h2>Assignments</h2><ul>{links}</ul>")
    page = out / "index.html"
    page.write_text(PAGE.format(title="Class report", body=body))
    return page


def write_report(workdir, out=None):
    """Write the report pages under ``out`` (default ``WORKDIR/report``); return their paths."""
    workdir = Path(workdir).resolve()
    out = Path(out) if out else workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(workdir)
    if not summary:
        raise CourseError(f"grades.csv in {workdir} has no rows: nothing to report")
    pages = [assignment_page(out, a, s) for a, s in summary.items()]
    return [course_page(out, summary), *pages]
