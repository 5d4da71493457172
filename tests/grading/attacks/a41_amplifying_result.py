"""predict returns four million empty lists: 12 MB as JSON, about a gigabyte once decoded.
The grader counts the items in the message's bytes and refuses it before decoding."""

from . import patched

cells = patched(("    return self.forward(X).argmax(axis=1)",
                 "    return [[] for _ in range(4_000_000)]"))

EXPECT_SCORE = 8
EXPECT_OUTPUT = ["more than 1,000,000 items"]
