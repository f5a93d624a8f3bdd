"""Feedback for students: scores and failure messages, never hidden test code.

nbgrader's own feedback prints the hidden tests, and their tracebacks quote the hidden
lines; the chain below removes both and keeps each test's one-line message. Its math is
MathML (``grader.feedback_math``), so the page needs nothing from the internet.
"""
import html
import textwrap
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

from grader.course import nbgrader_config, notebook_name, prepare_environment
from grader.feedback_math import MathToMathML, drop_cdn_mathjax
from grader.status import read_status


class KeepOnlyTestMessages(NbGraderPreprocessor):
    """Replace each test cell's traceback by ``ErrorName: message``, wrapped so the hint is in view."""

    width = 100

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    message = f"{output.ename}: {output.evalue}".replace(" Hint: ", "\nHint: ")
                    output.traceback = ["\n".join(textwrap.fill(line, self.width, subsequent_indent="    ")
                                                  for line in message.splitlines())]
        return cell, resources


FEEDBACK_CHAIN = [GetGrades, ClearHiddenTests, KeepOnlyTestMessages, MathToMathML, CSSHTMLHeaderPreprocessor]

# nbgrader's template fails WCAG 2.1 AA (axe-core: no lang attribute, links told apart by colour
# alone, blue links on the blue cell headings, pale code comments): darker, underlined links, white
# ones on the headings, darker comments and operator words.
ACCESSIBLE_CSS = """<style>
a { color: #0b4f9c; text-decoration: underline; }
.nbgrader_cell .panel-heading a, .nbgrader_cell .panel-heading a:visited { color: #ffffff !important; }
.highlight .c, .highlight .c1, .highlight .ch, .highlight .cm, .highlight .cp, .highlight .cs { color: #2f5757; }
.highlight .ow { color: #7a1fb8; }
.highlight .ne { color: #a3261f; }
</style>
"""


def accessible(page):
    """The feedback page with a language and the colours above."""
    page = page.replace("<html>", '<html lang="en">', 1)
    return page.replace("</head>", ACCESSIBLE_CSS + "</head>", 1)


FAILED_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p><strong>Your notebook could not be graded.</strong></p>
<p>{reason}</p><p>Fix this and submit again, or ask your instructor.</p></body></html>
"""


def feedback_path(workdir, student, assignment):
    return Path(workdir) / "feedback" / student / assignment / notebook_name(assignment).replace(".ipynb", ".html")


def generate_feedback(workdir, students=None):
    """Write one HTML file per graded submission (and a short note for each failed one)."""
    from nbgrader.apps import NbGraderAPI

    prepare_environment()
    workdir = Path(workdir).resolve()
    status_file = workdir / "status.json"
    if not status_file.exists():
        raise FileNotFoundError(f"no grading results in {workdir}: run `python -m grader autograde` first")
    config = nbgrader_config(workdir)
    config.GenerateFeedback.preprocessors = FEEDBACK_CHAIN
    api = NbGraderAPI(config=config)
    written, problems = [], []
    for key, entry in sorted(read_status(workdir).items()):
        student, assignment = key.split("/", 1)
        if students and student not in students:
            continue
        target = feedback_path(workdir, student, assignment)
        if entry["status"] == "failed":
            target.parent.mkdir(parents=True, exist_ok=True)
            title = html.escape(f"{assignment}: feedback for {student}")
            target.write_text(FAILED_PAGE.format(title=title, reason=html.escape(entry["reason"])))
        else:
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                problems.append(f"{key}: {(result.get('error') or 'feedback failed').strip().splitlines()[-1]}")
                continue
            target.write_text(accessible(drop_cdn_mathjax(target.read_text())))
        written.append(target)
    return written, problems
