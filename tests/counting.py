"""Checkers that count the checks they are asked to make, so that tests compare the ok: lines a judge
printed with the number of checks it made, instead of with a number typed into the test."""


def counted(**checkers):
    """({name: checker that records each call}, the list of recorded check names)."""
    calls = []

    def wrap(checker):
        def recording(what, *args, **kwargs):
            calls.append(what)
            return checker(what, *args, **kwargs)
        return recording
    return {name: wrap(checker) for name, checker in checkers.items()}, calls
