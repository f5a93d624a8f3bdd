"""The class report, built from the graded class: right counts, common mistakes named, offline, no leaks."""
import re

import pytest
from chromium import chromium
from test_browser import axe_violations, blocking, describe

from grader.course import assignments
from grader.leaks import leaked, region_lines, visible_text
from grader.report import NAMED_MISTAKE, parse_parts, write_report



@pytest.fixture(scope="module")
def report(graded, tmp_path_factory):
    rows, workdir = graded
    out = tmp_path_factory.mktemp("report")
    return rows, write_report(workdir, out), out


def test_one_page_per_assignment_and_a_course_page(report):
    rows, pages, out = report
    names = {p.name for p in pages}
    assert "index.html" in names
    assert {f"{a}.html" for _, a in rows if a in assignments()} <= names
    for page in pages:
        for src in re.findall(r'<img src="([^"]+)"', page.read_text()):
            assert (out / src).exists(), (page, src)


def test_pass_rates_match_the_grades(report):
    rows, _, out = report
    a = "ch04_recurrent_networks"
    scored = [r for (s, x), r in rows.items() if x == a and r["status"] != "failed" and r["score"] != ""]
    full = sum(1 for r in scored for name, score, top in parse_parts(r["parts"]) if name == "test_rnn_step"
               and score == top)
    page = (out / f"{a}.html").read_text()
    cells = re.search(r"<tr><td>test_rnn_step</td>(.*?)</tr>", page).group(1)
    numbers = re.findall(r'<td class="num">([^<]*)</td>', cells)
    assert numbers[1:3] == [str(full), str(len(scored))]


def test_named_mistakes_are_counted(report):
    """Each bank mistake is handed in once: its named mistake appears in the report with its count."""
    rows, _, out = report
    page = visible_text((out / "ch04_recurrent_networks.html").read_text())
    assert re.search(r"test_rnn_step\s*a sigmoid where the recurrence uses tanh\s*\d+", page)
    assert NAMED_MISTAKE.findall("Hint: your result matches a missing bias b_h. Next") == ["a missing bias b_h"]


def test_flagged_and_failed_are_listed_with_reasons(report):
    rows, _, out = report
    page = visible_text((out / "ch04_recurrent_networks.html").read_text())
    for (student, a), row in rows.items():
        if a == "ch04_recurrent_networks" and row["status"] != "graded":
            assert student in page and row["reason"][:40] in page, student


def test_no_solution_or_hidden_test_in_the_report(report):
    _, pages, _ = report
    text = "\n".join(visible_text(p.read_text()) for p in pages)
    for a in assignments():
        assert not leaked(region_lines(a, "solution") | region_lines(a, "hidden"), text), a


def test_report_renders_offline_in_chromium(report):
    _, pages, _ = report
    with chromium() as browser:
        for path in pages:
            page = browser.new_page()
            requests, errors = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(path.as_uri())
            assert page.locator("h1").count() == 1
            for img in page.locator("img").all():
                assert img.evaluate("i => i.complete && i.naturalWidth > 0"), path
                assert len(img.get_attribute("alt") or "") > 20
            assert not errors, errors
            assert all(u.startswith("file://") for u in requests), requests
            serious = blocking(axe_violations(page))
            assert not serious, "\n".join([f"{path}: WCAG 2.1 A/AA violations"] + describe(serious))
            page.screenshot(path=str(path.with_suffix(".png")).replace(".png", "-screenshot.png"), full_page=True)
            page.close()
