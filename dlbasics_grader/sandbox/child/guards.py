"""The guards the runner installs just before the learner's code: an audit hook that
refuses sockets, forbidden imports and (if so configured) new processes, and
stand-in modules for forbidden imports (whose files Landlock also keeps
unreadable). Loaded by path by :mod:`runner`; standard library only."""

import importlib.abc
import importlib.machinery
import sys
import types


def _matches(name, prefixes):
    for p in prefixes:
        if name == p or name.startswith(p + "."):
            return True
    return False


def install_guards(policy):
    """Audit hook + stand-in modules for forbidden imports (``policy``: a
    :class:`protocol.Policy`)."""

    forbidden = tuple(policy.forbidden_modules)
    reason = policy.reason or "this module is not allowed in this exercise"
    allow_processes = policy.allow_processes
    network_events = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                      "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                      "socket.getnameinfo"}
    process_events = {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn",
                      "os.spawn", "subprocess.Popen", "pty.spawn", "os.startfile"}

    def hook(event, args):
        if event in network_events:
            raise PermissionError("network access is disabled while grading")
        if event == "import" and forbidden:
            # The stand-in finder must answer first; if the learner's code moved
            # it, the real module must not load.
            name = args[0]
            if type(name) is str and _matches(name, forbidden):
                meta_path = sys.meta_path
                if not meta_path or meta_path[0] is not finder:
                    raise ImportError(f"{name} is blocked while grading: {reason}")
        if not allow_processes and event in process_events:
            raise PermissionError(f"starting processes ({event}) is disabled while grading")

    def make_blocked(name):
        def fail(*_a, **_k):
            raise ImportError(f"{name} is blocked while grading: {reason}")

        class Blocked:
            def __init__(self, *a, **k):
                fail()

            def __init_subclass__(cls, **k):
                pass

            def __getattr__(self, attr):
                fail()

        class Stand_in:
            __slots__ = ()

            def __call__(self, *a, **k):
                fail()

            def __getattr__(self, attr):
                if attr.startswith("__") and attr.endswith("__"):
                    raise AttributeError(attr)
                fail()

            def __mro_entries__(self, bases):
                return (Blocked,)

            def __repr__(self):
                return f"<blocked: {name}>"

        return Stand_in()

    class BlockedModule(types.ModuleType):
        def __getattr__(self, attr):
            if attr.startswith("__") and attr.endswith("__"):
                raise AttributeError(attr)
            return make_blocked(f"{self.__name__}.{attr}")

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return BlockedModule(spec.name)

        def exec_module(self, module):
            module.__path__ = []

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if forbidden and _matches(name, forbidden):
                return importlib.machinery.ModuleSpec(name, Loader(), is_package=True)
            return None

    finder = Finder()
    if forbidden:
        for name in list(sys.modules):
            if _matches(name, forbidden):
                del sys.modules[name]
        sys.meta_path.insert(0, finder)
    sys.addaudithook(hook)
