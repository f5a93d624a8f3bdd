"""Repair a submitted notebook before grading, so that an honest accident costs nothing.

Every cell of the submission is matched to the released notebook it came from: by its nbgrader
metadata when that is there and is this exercise's (its checksum says so); else by content (the
text of a release cell, or the function an answer cell must define); else by place (a written
answer between the cells around it). The repaired notebook holds each graded and read-only cell
of the release exactly once, with the release's metadata and cell type, at its place in the
release's order; every cell the student wrote (copies included) still runs, in the student's
order. Each repair is one plain line, for the grades' reason and the feedback.

This replaces nbgrader's ``add_missing_cells``, which cannot put a cell back after a read-only
one (KeyError), and its handling of duplicated ids, which fails the whole notebook. Nothing here
is specific to one exercise: the release notebook drives it.
"""
import ast
import copy
import re
from collections import defaultdict
from dataclasses import dataclass, field

import nbformat

CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TYPE_NAMES = {"code": "code", "markdown": "Markdown", "raw": "Raw"}


@dataclass
class Repaired:
    notebook: nbformat.NotebookNode
    notes: list = field(default_factory=list)    # one plain line per repair
    numbers: list = field(default_factory=list)  # per repaired cell: the student's cell number, None if put back
    matched: bool = True                          # False: no cell of the submission is this exercise's


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader") or {}


def _norm(text):
    return "\n".join(line.rstrip() for line in (text or "").strip().splitlines())


def defined_functions(source):
    """Top-level functions and classes a cell defines, in order ([] if it is not Python)."""
    try:
        tree = ast.parse(source or "")
    except (SyntaxError, ValueError):
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def _cells_words(numbers):
    numbers = sorted(numbers)
    if len(numbers) == 1:
        return f"cell {numbers[0]}"
    return "cells " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def _kind(meta):
    if meta.get("grade") and meta.get("solution"):
        return "written-answer cell"
    if meta.get("grade"):
        return "test cell"
    if meta.get("solution"):
        return "answer cell"
    return "read-only cell"


def _strip(cell):
    cell.get("metadata", {}).pop("nbgrader", None)


def _set_type(cell, cell_type):
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def carried_ids(nb):
    """(grade_id, checksum) of every cell with nbgrader metadata: which release a notebook came from."""
    return {(m.get("grade_id"), m.get("checksum")) for m in map(nbgrader_meta, nb.cells) if m.get("grade_id")}


def repair(submitted, release):
    """A ``Repaired`` copy of ``submitted`` (a v4 notebook) matched to ``release``; never raises on odd cells."""
    nb = copy.deepcopy(submitted)
    cells, rel = nb.cells, release.cells
    by_id = {nbgrader_meta(c)["grade_id"]: k for k, c in enumerate(rel) if nbgrader_meta(c).get("grade_id")}
    notes, match, drop, copies = [], {}, set(), set()

    # 1. by nbgrader metadata: this exercise's ids; copies of one id; ids from another notebook
    groups = defaultdict(list)
    for i, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if grade_id not in by_id:
            if meta:
                _strip(cell)
                if grade_id:
                    notes.append(f"cell {i + 1} carries an nbgrader id this exercise does not have (`{grade_id}`, "
                                 "pasted from another notebook?); it runs as an ordinary cell")
            continue
        k = by_id[grade_id]
        want = nbgrader_meta(rel[k]).get("checksum")
        if meta.get("checksum") and want and meta["checksum"] != want and _norm(cell.source) != _norm(rel[k].source):
            _strip(cell)  # same name, other checksum: another exercise's cell, or an older release's
            notes.append(f"cell {i + 1} carries the nbgrader id `{grade_id}` from another notebook (another "
                         "exercise's, or an older release of this one); it runs as an ordinary cell")
            continue
        groups[k].append(i)
    for k, found in sorted(groups.items()):
        grade_id, meta = nbgrader_meta(rel[k])["grade_id"], nbgrader_meta(rel[k])
        if len(found) > 1 and meta.get("locked") and not meta.get("solution"):
            same = [i for i in found if _norm(cells[i].source) == _norm(rel[k].source)]
            keep = (same or found)[0]  # copies of instructor code: the first one sits at its place
            extra = [i + 1 for i in found if i != keep]
            drop.update(i - 1 for i in extra)
            notes.append(f"{_cells_words(extra)} {'was an extra copy' if len(extra) == 1 else 'were extra copies'} "
                         f"of the {_kind(meta)} `{grade_id}`; left out (cell {keep + 1} is graded)")
        elif len(found) > 1:
            keep = found[-1]  # the student's latest attempt; the earlier ones still run, as plain cells
            for i in found[:-1]:
                _strip(cells[i])
                copies.add(i)
            earlier = [i + 1 for i in found[:-1]]
            notes.append(f"{_cells_words(earlier)} {'was a copy' if len(earlier) == 1 else 'were copies'} of "
                         f"`{grade_id}`; the last copy (cell {keep + 1}) was graded")
        else:
            keep = found[0]
        match[keep] = k

    # 2. cells without metadata: by content, then (written answers) by place
    free = [i for i in range(len(cells)) if i not in match and i not in drop and i not in copies]
    rebuilt = []

    def take(i, k, how):
        match[i] = k
        free.remove(i)
        if nbgrader_meta(rel[k]).get("grade_id"):
            rebuilt.append((i + 1, f"cell {i + 1} = `{nbgrader_meta(rel[k])['grade_id']}`{how}"))

    for k, rc in enumerate(rel):  # the same text as a release cell
        if k not in match.values():
            same = [i for i in free if _norm(cells[i].source) == _norm(rc.source)]
            if same and _norm(rc.source):
                take(same[-1] if nbgrader_meta(rc).get("solution") else same[0], k, "")
    for k, rc in enumerate(rel):  # an answer cell: the last cell that defines its function
        meta = nbgrader_meta(rc)
        names = defined_functions(rc.source) if meta.get("solution") and rc.cell_type == "code" else []
        if k not in match.values() and names:
            defining = [i for i in free if names[0] in defined_functions(cells[i].source)]
            if defining:
                take(defining[-1], k, f" (defines `{names[0]}`)")
    strong = any(nbgrader_meta(rel[k]).get("grade_id") for k in match.values())
    for k, rc in enumerate(rel):  # a written answer: the last free Markdown cell between its neighbours
        meta = nbgrader_meta(rc)
        if k in match.values() or not (meta.get("solution") and rc.cell_type == "markdown"):
            continue
        where = {kk: i for i, kk in match.items()}
        before = [where[kk] for kk in where if kk < k]
        after = [where[kk] for kk in where if kk > k]
        low, high = max(before, default=-1), min(after, default=len(cells))
        between = [i for i in free if low < i < high and cells[i].cell_type == "markdown"]
        if between and (before or after):
            take(between[-1], k, " (by its place)")
    if rebuilt:
        many = len(rebuilt) > 1
        notes.append(f"{len(rebuilt)} {'cells' if many else 'cell'} had lost {'their' if many else 'its'} nbgrader "
                     "metadata (copied into a new notebook, or saved by an editor that drops it) and "
                     f"{'were' if many else 'was'} matched to the exercise by content: "
                     + ", ".join(text for _, text in sorted(rebuilt)))
    if not strong:  # no cell of this exercise by metadata or content: nothing to grade
        return Repaired(nb, notes, matched=False)

    # 3. the matched cells get the release's type, metadata and (read-only cells) source
    for i, k in sorted(match.items()):
        cell, rc, meta = cells[i], rel[k], nbgrader_meta(rel[k])
        if not meta.get("grade_id"):
            continue
        if cell.cell_type != rc.cell_type:
            notes.append(f"cell {i + 1} (`{meta['grade_id']}`) had been changed to {TYPE_NAMES.get(cell.cell_type)}; "
                         f"it was changed back to {TYPE_NAMES[rc.cell_type]}")
            _set_type(cell, rc.cell_type)
        if meta.get("locked") and _norm(cell.source) != _norm(rc.source):
            notes.append(f"cell {i + 1} (the {_kind(meta)} `{meta['grade_id']}`) had been edited; "
                         "the original was put back")
            cell.source = rc.source
        cell.metadata["nbgrader"] = copy.deepcopy(meta)
        for key in ("deletable", "editable"):
            if key in rc.metadata:
                cell.metadata[key] = rc.metadata[key]

    # 4. chunks: a matched cell and the student's cells after it; graded in the release's order
    chunks, current = [], [-1, []]
    for i in range(len(cells)):
        if i in drop:
            continue
        if i in match:
            chunks.append(current)
            current = [match[i], []]
        current[1].append(i)
    chunks = [c for c in chunks + [current] if c[1]]
    graded = [k for k, _ in chunks if k >= 0 and nbgrader_meta(rel[k]).get("grade_id")]
    late = next((b, a) for a, b in zip(graded, graded[1:]) if b < a) if graded != sorted(graded) else None
    if late:
        first, second = (nbgrader_meta(rel[k])["grade_id"] for k in late)
        notes.append(f"cells were out of the exercise's order (`{second}` came before `{first}`); "
                     "they were graded in the exercise's order")
        chunks.sort(key=lambda c: c[0])

    # 5. graded and read-only cells that are missing go back at their place (answer code cells never do:
    #    an empty stub put back would overwrite the student's function if it lives in another cell)
    out = [[k, [cells[i] for i in members], [i + 1 for i in members]] for k, members in chunks]
    present = {k for k, *_ in out}
    for k, rc in enumerate(rel):
        meta = nbgrader_meta(rc)
        if k in present or not meta.get("grade_id"):
            continue
        if meta.get("solution") and not meta.get("grade"):
            names = defined_functions(rc.source)
            if not any(names and names[0] in defined_functions(c.source) for c in cells):
                notes.append(f"the answer cell `{meta['grade_id']}` is missing and no cell defines "
                             f"`{names[0] if names else meta['grade_id']}`: that part cannot pass")
            continue
        new = copy.deepcopy(rc)
        new.pop("id", None)  # a fresh one below: the release's may be taken by the student's copy
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        earlier = [(kk, n) for n, (kk, *_) in enumerate(out) if 0 <= kk < k]
        at = 1 + max(earlier)[1] if earlier else 0  # after the nearest earlier release cell that is there
        following = [num for _, _, nums in out[at:] for num in nums if num]
        out.insert(at, [k, [new], [None]])
        present.add(k)
        place = f"before cell {following[0]}" if following else "at the end"
        what = "an empty one was put back" if meta.get("solution") else "it was put back"
        notes.append(f"the {_kind(meta)} `{meta['grade_id']}` was missing; {what} at its place ({place})")

    nb.cells = [cell for _, members, _ in out for cell in members]
    numbers = [num for _, _, nums in out for num in nums]
    _tidy(nb, release)
    return Repaired(nb, notes, numbers)


def _tidy(nb, release):
    """No outputs (they are never graded, and may come from another notebook); valid, unique cell ids.

    New ids are numbered, not random, so that the same submission is always repaired the same way.
    """
    seen = {c.get("id") for c in nb.cells}
    taken, fresh = set(), (f"repaired-{n}" for n in range(10 ** 6))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if not isinstance(cell.get("id"), str) or not CELL_ID.match(cell["id"]) or cell["id"] in taken:
            cell["id"] = next(i for i in fresh if i not in seen)
        taken.add(cell["id"])
    nb.nbformat, nb.nbformat_minor = 4, max(release.nbformat_minor, 5)


def note_cell(notes):
    """A Markdown cell for the top of the graded notebook: what was repaired, so feedback shows it."""
    lines = "\n".join(f"- {note}" for note in notes)
    return nbformat.v4.new_markdown_cell(f"**Before grading, the grader repaired this notebook:**\n\n{lines}")


def other_exercise(nb, releases, assignment):
    """The other exercise whose nbgrader metadata ``nb`` carries when it carries none of ``assignment``'s, else None."""
    carried = carried_ids(nb)
    if not carried or carried & carried_ids(releases[assignment]):
        return None
    counts = {name: len(carried & carried_ids(rel)) for name, rel in releases.items() if name != assignment}
    best = max(counts, key=counts.get, default=None)
    return best if best and counts[best] else None


def nothing_matched(release, assignment):
    """Why a notebook with nothing of the exercise in it cannot be graded, and what to do, in plain words."""
    names = [f"`{n[0]}`" for c in release.cells if nbgrader_meta(c).get("solution")
             for n in [defined_functions(c.source)] if n]
    return (f"none of its cells belong to the exercise {assignment}: no cell carries its nbgrader metadata, "
            f"holds one of its read-only cells or defines {', '.join(names) or 'one of its functions'}. "
            "Is it the right notebook? Download the exercise again, copy your answers into it and hand that in")
