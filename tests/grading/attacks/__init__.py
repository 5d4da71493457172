"""Attack corpus: submissions that try to break or fool the grader.

Each module describes one submission and what grading it must give:

* ``CELLS``: code cells; the string ``SOLUTION`` stands for the code cells of
  ``solutions/ex1_neural_network.ipynb`` (Parts 0-5, without the demo), ``STUBS``
  for the same cells of the student notebook. Or ``RAW``: the file's bytes,
  or ``build(path)``: a function that writes the file.
* ``EXPECT_SCORE``: the total score. ``EXPECT_STATUS``: ``{part: status}`` for
  the parts that must not pass (every other part must pass if the score is
  full). ``EXPECT_OUTPUT``: substrings the learner must see (overall output or
  a test's output); a tuple of substrings means any one of them (a refusal
  reads differently where a mount hides a file and where Landlock refuses it).
  ``FORBIDDEN_OUTPUT``: substrings that must not appear anywhere in the results
  or the kept output (hidden values).
* ``CANARIES``: paths outside the sandbox that must not exist afterwards.
* ``TIME_SCALE``: multiplies every time limit (default 0.25 to keep timeouts cheap).
* ``after(report)``: extra assertions on the report.
* ``arrange(outside, uid)``: sets up what the attack aims at outside the sandbox
  (a listening socket, a process) and returns an object with ``fill`` (text
  replaced in ``CELLS``), ``check(report)`` (asserts the target was not
  reached) and ``close()``. ``outside`` is a folder of the test's, ``uid`` the
  grading user.

Most attacks change the solution a little: ``cells = patched((old, new), ...)``.

Those are the Exercise 1 attacks, ``aNN_*.py``. An attack on another exercise, ``exN_*.py``,
holds ``CELLS`` appended to that solution's definitions; the tests that import it say what it
must score. ``test_attacks.py`` checks that every module's docstring says what it tries, that
each ``aNN`` module declares its grade, and that some test runs every module.
"""


EX1_PARTS = ("ex1.init", "ex1.forward", "ex1.backward", "ex1.train")


def every_part(status: str) -> dict[str, str]:
    """``EXPECT_STATUS`` for an attack that must leave every part of Exercise 1 ``status``."""
    return dict.fromkeys(EX1_PARTS, status)


def patched(*replacements: tuple[str, str], prefix: tuple[str, ...] = ()):
    """An attack's ``cells(solution_cells)``: ``prefix`` cells, then the solution's cells
    with every ``(old, new)`` replacement made."""

    def cells(solution_cells: list[str]) -> list[str]:
        out = list(prefix)
        for src in solution_cells:
            for old, new in replacements:
                src = src.replace(old, new)
            out.append(src)
        return out

    return cells
