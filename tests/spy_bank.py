"""A hostile submission per assignment that tries every route by which reference code could reach its feedback.

``spying(assignment)`` starts from the solution, breaks the earlier parts named in ``BROKEN``
(bank mistakes, so that later parts are graded with the grader's stand-ins in place), and adds
a cell that wraps every graded function: on its first calls while being graded it collects what
it can reach (``globals()``, the frames above it and their locals, closures, ``gc``), prints and
displays ``inspect.getsource`` of it, keeps the function objects, and appends the lot to a file.
A last cell prints IPython's history (``In``, ``Out``, ``_ih``, ``_oh``, ``_``), ``linecache``,
the file, and the names and constants of the kept functions' code (``marshal``-led). Every module
is reached through ``importlib`` and every attribute through ``getattr`` with a built name, so
the static checks do not see it: only the grader's design stands between it and the reference.
"""
import nbformat

from submission_bank import banks, filled, solution_sources

BROKEN = {  # earlier parts broken with a bank mistake: later parts then meet the grader's stand-ins
    "ch01_naive_bayes": ("no_lowercasing", "presence_not_counts", "alpha_in_numerator_only", "prior_ignored"),
    "ch02_ngram_language_models": ("no_end_symbol", "delta_in_numerator_only", "log_base_mixed_up",
                                   "raw_counts_for_the_lower_order", "weight_without_distinct_followers"),
    "ch03_fixed_window_neural_lm": ("context_shifted_by_one", "summed_embeddings"),
    "ch04_recurrent_networks": ("missing_bias",),
    "ch05_training_rnn_language_models": ("summed_loss",),
    "ch06_backpropagation_through_time": ("missing_dh_next", "jacobian_missing_diag"),
    "ch07_vanishing_exploding_gradients": ("jacobian_without_slopes",),  # no part calls another here
    "ch08_signal_propagation": ("physicists_weights_not_normalised",),  # every later map calls the quadrature
    "ch09_lstm": ("no_forget_gate",),  # lstm_forward calls lstm_step
    "ch10_gru": ("missing_reset_gate",),  # gru_forward calls gru_step
    "ch11_deep_recurrent_networks": ("dt_extra_layers_read_the_input",),  # no part calls another here
}
MARKER = "SPY-FINDINGS"  # printed with every finding: the tests check the routes did run

SPY_CELL = f'''
import functools as _functools, importlib as _il, types as _types
from IPython.display import display as _display
_inspect, _gc, _sys = (_il.import_module(_m) for _m in ("insp" + "ect", "g" + "c", "s" + "ys"))
_marshal, _linecache = (_il.import_module(_m) for _m in ("mar" + "shal", "line" + "cache"))
_kept, _calls, _NOTES = [], {{}}, "spy_notes.txt"

def _attr(obj, *names):
    for name in names:
        obj = getattr(obj, name, None)
    return obj

def _reachable():
    """Functions in globals, in every frame above this one (and their closures), and grader functions in gc."""
    found = [v for v in list(globals().values()) if callable(v)]
    frame = vars(_sys)["_get" + "frame"](1)
    while frame is not None:
        found += [v for v in list(_attr(frame, "f_" + "locals").values()) if callable(v)]
        frame = _attr(frame, "f_" + "back")
    for fn in list(found):
        for cell in _attr(fn, "__" + "closure__") or ():
            try:
                found.append(cell.cell_contents)
            except ValueError:
                pass
    for obj in vars(_gc)["get_" + "objects"]():
        if isinstance(obj, _types.FunctionType) and (str(obj.__module__).startswith(("grader", "earlier"))
                                                      or str(_attr(obj, "__" + "code__", "co_filename")).startswith("<")):
            found.append(obj)
    return [f for f in found if isinstance(f, (_types.FunctionType, _types.MethodType, type))]

def _sources(objects):
    """The source of each object that is not library code (that much any student can read anyway)."""
    out, libraries = [], (_sys.prefix, _sys.base_prefix)
    for obj in objects:
        try:
            if not str(vars(_inspect)["getsource" + "file"](obj)).startswith(libraries):
                out.append(vars(_inspect)["get" + "source"](obj))
        except (OSError, TypeError):
            pass
    return out

def _spy(fn):
    @_functools.wraps(fn)
    def spied(*args, **kwargs):
        _calls[fn.__name__] = _calls.get(fn.__name__, 0) + 1
        if _calls[fn.__name__] <= 2:
            objects = _reachable()
            _kept.extend(objects)
            text = "\\n".join(dict.fromkeys(_sources(objects)))
            print("{MARKER} inside", fn.__name__, len(objects), "functions")
            _display({{"text/plain": "{MARKER} (displayed from inside the probe)\\n" + text}}, raw=True)
            with open(_NOTES, "a") as notes:
                notes.write(text)
        return fn(*args, **kwargs)
    return spied
'''

REPORT_CELL = f'''
_g = globals()
_history = {{name: _g.get(name) for name in ("I" + "n", "Ou" + "t", "_i" + "h", "_o" + "h", "_", "__", "___")}}
_display({{"text/plain": "{MARKER} history\\n" + "\\n".join(f"{{k}}: {{v!r}}" for k, v in _history.items())}}, raw=True)
_cache = vars(_linecache)["ca" + "che"]
_cells = "\\n".join("".join(e[2]) for name, e in list(_cache.items()) if "ipykernel_" in name and len(e) > 2)
_display({{"text/plain": "{MARKER} cells in linecache\\n" + _cells}}, raw=True)
_grader = [name for name, value in list(_g.items()) if str(getattr(value, "__module__", "")).startswith("grader")]
_display({{"text/plain": "{MARKER} grader objects in globals: " + repr(_grader)}}, raw=True)
_display({{"text/plain": "{MARKER} linecache\\n" + "\\n".join("".join(e[2]) for e in list(_cache.values()) if len(e) > 2)}},
         raw=True)
try:
    _notes = open(_NOTES).read()
except OSError as _err:
    _notes = repr(_err)
_display({{"text/plain": "{MARKER} notes written inside the probe\\n" + _notes}}, raw=True)
_codes = []
for _fn in dict.fromkeys(_kept):
    _code = _attr(_fn, "__" + "code__")
    if _code is not None:
        _codes.append(f"{{_fn!r}} {{len(vars(_marshal)['du' + 'mps'](_code))}} bytes: {{_attr(_code, 'co_' + 'names')}} {{_attr(_code, 'co_' + 'consts')}}")
_display({{"text/plain": "{MARKER} marshalled code\\n" + "\\n".join(_codes)}}, raw=True)
_display({{"text/plain": "{MARKER} sources now\\n" + "\\n".join(dict.fromkeys(_sources(_reachable())))}}, raw=True)
'''


def spying(assignment):
    """The hostile submission for ``assignment``: broken earlier parts, spies on every graded function."""
    mistakes = {name: m for (a, name), m in banks().items() if a == assignment}
    answers = {mistakes[name].cell: mistakes[name].code for name in BROKEN[assignment]}
    parts = solution_sources(assignment)
    for cell in [c for c, source in parts.items() if f"def {c}(" in source]:
        answers[cell] = answers.get(cell, parts[cell]) + f"\n{cell} = _spy({cell})\n"
    nb = filled(assignment, answers)
    setup = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(SPY_CELL))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    return nb


def broken_tests(assignment):
    """The test cells the broken parts lose: those and no others."""
    return {m.fails for (a, name), m in banks().items() if a == assignment and name in BROKEN[assignment]}
