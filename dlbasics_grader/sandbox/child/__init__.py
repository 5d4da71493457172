"""The child half of the sandbox: the program that runs inside it.

:mod:`.runner` is started as a script (``python runner.py JOB_FD FD WORK_FD``), not
imported: it loads :mod:`.confine`, :mod:`.guards`, the shared
:mod:`~dlbasics_grader.sandbox.protocol`, :mod:`dlbasics_grader.codec` and
:mod:`dlbasics_grader.isolation` by path, so nothing of the grader package
is imported into the process that runs learner code.
"""
