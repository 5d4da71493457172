"""Write files outside the working directory: /tmp, the repository, /etc, the home directory."""

CELLS = [
    "open('/tmp/dlbasics-attack-canary', 'w').write('pwned')",
    "open('/work/main/dlbasics-attack-canary', 'w').write('pwned')",
    "open('/work/main/hidden_exercises/ex1.py', 'a').write('pwned')",
    "open('/etc/dlbasics-attack-canary', 'w').write('pwned')",
    "open('/dev/shm/dlbasics-attack-canary', 'w').write('pwned')",
    "import os\nopen(os.path.expanduser('~/.bashrc'), 'a').write('pwned')",
    "open('local-file.txt', 'w').write('fine: this is the sandbox working directory')",
    "SOLUTION",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["Permission denied"]
CANARIES = ["/tmp/dlbasics-attack-canary", "/work/main/dlbasics-attack-canary",
            "/etc/dlbasics-attack-canary", "/dev/shm/dlbasics-attack-canary"]
