"""Open network connections (to leak tests or fetch a solution)."""

CELLS = [
    "import socket\ns = socket.socket()\ns.connect(('1.1.1.1', 80))",
    "import socket\nsocket.getaddrinfo('example.com', 80)",
    "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 8765))\ns.listen()",
    "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=2)",
    "SOLUTION",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["network access is disabled while grading"]
