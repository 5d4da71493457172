"""The instructor's autograder for the Deep Learning Basics exercises.

``dlbasics-grade`` (:mod:`dlbasics_grader.cli`) grades submitted notebooks in a
sandbox against the hidden tests. This package is for instructors and never
ships to learners; the public checks learners run live in
:mod:`dlbasics.checks`. The grader imports :mod:`dlbasics`, never the other way
round. See ``README.md`` in this folder.
"""
