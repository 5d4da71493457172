"""An empty file, then a notebook without cells."""

RAW = b""
EXPECT_SCORE = 0
EXPECT_OUTPUT = ["the file is empty"]
