"""Tests of the public checks (``dlbasics.checks``) a learner runs in a notebook."""
