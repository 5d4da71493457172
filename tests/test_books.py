"""The shipped public-domain novel."""

from __future__ import annotations

from dlbasics import load_pride_and_prejudice


def test_pride_and_prejudice_is_the_whole_novel():
    text = load_pride_and_prejudice()
    assert len(text) == 684_768 and len(set(text)) == 75
    assert text.startswith("PRIDE AND PREJUDICE\n\nBy Jane Austen\n")
    assert "It is a truth universally acknowledged, that a single man in possession\n" in text
    assert text.count("\nChapter ") == 61
    assert text.rstrip().endswith("had been the means of uniting them.")
