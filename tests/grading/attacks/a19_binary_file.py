"""A PNG image submitted instead of the notebook."""

RAW = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
EXPECT_SCORE = 0
EXPECT_OUTPUT = ["binary file"]
