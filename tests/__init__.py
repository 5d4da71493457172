"""The test suite: unit and parity tests here, public checks in ``checks/``, the grader in
``grading/``; shared paths and notebook helpers in ``helpers.py``."""
