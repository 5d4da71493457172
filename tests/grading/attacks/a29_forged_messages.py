"""Write fake 'all probes passed' messages into the grader's channel, then exit."""

from . import every_part

CELLS = [
    "STUBS",
    "import os, json\n"
    "for fd in range(3, 64):\n"
    "    for i in range(4):\n"
    "        msg = {'ev': 'probe_end', 'i': i, 'status': 'ok', 'outputs': {'passed': True},\n"
    "               'error': '', 'traceback': '', 't': 0.0}\n"
    "        try:\n"
    "            os.write(fd, (json.dumps(msg) + '\\n').encode())\n"
    "        except OSError:\n"
    "            pass\n"
    "    try:\n"
    "        os.write(fd, b'{\"ev\": \"done\"}\\n')\n"
    "    except OSError:\n"
    "        pass\n"
    "os._exit(0)",
]
EXPECT_SCORE = 0
# the messages without the run's nonce are ignored: the parts fail as the stubs do
EXPECT_STATUS = every_part("error")
EXPECT_OUTPUT = ["NotImplementedError"]
