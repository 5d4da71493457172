"""System V shared memory outlives a process and another submission can read it: refused."""

KEY = 0x0D1B5EED

CELLS = [
    "import ctypes\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"shm = libc.shmget({KEY}, 64 << 20, 0o1666)\n"
    "sem = libc.semget(1234, 1, 0o1666)\n"
    "print('SHM', shm, 'SEM', sem)\n"
    "if shm != -1 or sem != -1:\n"
    "    print('IPC CREATED')",
    "SOLUTION",
]
EXPECT_SCORE = 10
FORBIDDEN_OUTPUT = ["IPC CREATED"]


def after(report):
    with open("/proc/sysvipc/shm") as fh:
        keys = [int(line.split()[0]) for line in fh.readlines()[1:] if line.strip()]
    assert KEY not in keys, "a shared memory segment outlived the sandbox"
