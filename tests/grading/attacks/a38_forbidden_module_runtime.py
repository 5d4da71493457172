"""Reach around the forbidden-module guard at run time (os.sys attribute chains, __import__
through a builtin's __self__, a meta_path list subclass) and import torch for real."""

CELLS = [
    "import os\n"
    "meta = os.sys.meta_path\n"
    "guard = meta[0]\n"
    "class Sneaky(list):\n"
    "    def __getitem__(self, i):\n"
    "        return guard if i == 0 else list.__getitem__(self, i)\n"
    "    def __iter__(self):\n"
    "        return iter([f for f in list.__iter__(self) if f is not guard])\n"
    "os.sys.meta_path = Sneaky(meta)\n"
    "for name in [n for n in os.sys.modules if n.startswith('torch')]:\n"
    "    del os.sys.modules[name]\n"
    "importer = print.__self__.__dict__['__im' + 'port__']\n"
    "try:\n"
    "    t = importer('to' + 'rch')\n"
    "    print('TORCH LOADED', float(t.ones(2).sum()))\n"
    "except BaseException as exc:\n"
    "    print('refused:', type(exc).__name__, exc)\n"
    "os.sys.meta_path = meta",
    "SOLUTION",
]
EXPECT_SCORE = 10
FORBIDDEN_OUTPUT = ["TORCH LOADED"]


def after(report):
    assert "refused:" in report.stdout, report.stdout[-2000:]
