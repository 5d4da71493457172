"""predict writes a line of eight million empty lists into every descriptor: 24 MB as JSON,
about 700 MB once decoded (the corpus's grader-memory test fails without the bound). The grader
counts the items in a line's bytes and refuses it before decoding (a line is decoded before its
nonce can be checked, so none is needed). The line is written as bytes: building and encoding a
list that long would spend the probe's time limit inside the sandbox and never reach the grader."""

from . import patched

cells = patched(("    return self.forward(X).argmax(axis=1)",
                 "    import os\n"
                 "    line = b'[' + b'[],' * 8_000_000 + b'[]]\\n'\n"
                 "    for fd in range(3, 64):\n"
                 "        try:\n"
                 "            os.write(fd, line)\n"
                 "        except OSError:\n"
                 "            pass\n"
                 "    return self.forward(X).argmax(axis=1)"))

EXPECT_SCORE = 8
EXPECT_OUTPUT = ["more than 1,000,000 items"]
