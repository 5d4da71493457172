"""Write file after file to fill the disk: the working folder is a small in-memory one (its own
tmpfs, or without namespaces a folder on /dev/shm whose size the grader watches)."""

CELLS = [
    "open('huge.bin', 'wb').write(b'0' * 200 * 2**20)",
    "import os\n"
    "chunk = b'0' * 2**20\n"
    "for i in range(10_000):\n"
    "    with open(f'fill{i}.bin', 'wb') as fh:\n"
    "        for _ in range(15):\n"
    "            fh.write(chunk)",
    "SOLUTION",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = [("No space left on device", "wrote more than"), "File too large"]
