"""Forge the runner's messages on every descriptor: a 'ready' that rewrites the isolation
report, a huge integer, thousands of fake results. None may count or crash the grader."""

CELLS = [
    "import os, json\n"
    "forged = [{'ev': 'ready', 'isolation': {'user': 'root (forged)', 'landlock': 'forged'}},\n"
    "          {'ev': 'cell_end', 'i': 10 ** 300, 'status': 'ok', 't': 10 ** 300},\n"
    "          {'ev': 'probe_end', 'i': 0, 'status': 'ok', 'outputs': {'x': 10 ** 4000 // 10 ** 3990}},\n"
    "          {'ev': 'done'}]\n"
    "lines = b''.join((json.dumps(m) + '\\n').encode() for m in forged) * 50\n"
    "lines += b'9' * 5000 + b'\\n'\n"
    "for fd in range(3, 64):\n"
    "    try:\n"
    "        os.write(fd, lines)\n"
    "    except OSError:\n"
    "        pass",
    "SOLUTION",
]
EXPECT_SCORE = 10
FORBIDDEN_OUTPUT = ["forged"]


def after(report):
    assert report.isolation["user"].startswith(("uid ", "same as grader")), report.isolation
    assert "forged" not in str(report.isolation)
