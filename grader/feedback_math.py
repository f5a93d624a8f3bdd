"""Math in the feedback HTML without the internet: TeX turned into MathML when the feedback is written.

nbgrader's feedback template loads MathJax 2.7.7 from a CDN, so offline a student sees raw TeX.
Shipping MathJax inside every feedback file would add about 2 MB to each of them (a class of
500 students x 11 assignments: some 11 GB); MathML is rendered by every current browser and read
by screen readers, and costs nothing. A formula the converter cannot read stays as TeX, in code.
"""
import html
import re

from nbgrader.preprocessors import NbGraderPreprocessor

# Code first, so that a dollar sign inside code is never taken for math.
PIECES = re.compile(
    r"(?P<fence>^(`{3,}|~{3,}).*?^\2[ \t]*$)"
    r"|(?P<code>`+[^`]*?`+)"
    r"|\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|(?P<env>\\begin\{(?P<envname>equation\*?|align\*?|gather\*?)\}.*?\\end\{(?P=envname)\})"
    r"|(?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$(?!\$)",
    re.S | re.M)
CDN_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)


def to_mathml(tex, display):
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # the converter's own errors are of many types; the TeX is shown instead
        return f"<code>{html.escape(tex)}</code>"


def markdown_with_mathml(source):
    def replace(m):
        if m["fence"] or m["code"]:
            return m.group(0)
        if m["inline"] is not None:
            return to_mathml(m["inline"], display=False)
        tex = m["display"] or m["bracket"] or m["env"]
        return to_mathml(tex, display=True)

    return PIECES.sub(replace, source)


class MathToMathML(NbGraderPreprocessor):
    """Rewrite the math of every markdown cell as MathML."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = markdown_with_mathml(cell.source)
        return cell, resources


def drop_cdn_mathjax(page):
    """Remove the template's MathJax script tags: nothing is left to typeset, and nothing loads."""
    return CDN_MATHJAX.sub("", page)
