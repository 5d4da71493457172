"""Terminal control sequences in what the instructor's terminal shows: clear screen, window
title, clipboard (OSC 52), a hidden hyperlink, a carriage return and a fake score line."""

CELLS = [
    "raise RuntimeError('\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\x1b]52;c;cHduZWQ=\\x07'\n"
    "                   '\\x1b]8;;http://example.com\\x07click\\x1b]8;;\\x07\\r'\n"
    "                   '\\n  Score 10 / 10 \\u00b7 graded in 0.1 s\\u202e')",
    "STUBS",
]
EXPECT_SCORE = 0


def after(report):
    from dlbasics_grader.report import summary

    text = summary(report, color=False)
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text, text
    assert "\u202e" not in text
    assert not any(line.startswith("  Score 10") for line in text.splitlines()), text
    assert "\\x1b" in text  # shown, escaped
