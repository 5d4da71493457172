"""Error messages and output with lone surrogates: the JSON writer and the terminal must cope."""

CELLS = [
    "import sys\nsys.stdout.buffer.write('out \\ud800 put\\n'.encode('utf-8', 'surrogatepass'))",
    "raise ValueError('bad \\udcff text \\ud800')",
    "SOLUTION",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["ValueError: bad"]
