"""Instructor tools for the RNN course: release, autograde, feedback, export, and the student self-check.

Run ``python -m grader --help``. The course directory maps onto the repository:
nbgrader's source is ``solutions/``, its release is ``exercises/``; submissions,
autograded copies, feedback and the gradebook live in a working folder outside git.
"""
