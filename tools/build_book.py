"""Build the book: ``make book`` runs this.

Steps, each of which fails the build (non-zero exit) when it goes wrong:

1. **Execute** every notebook of ``_toc.yml`` whose code changed since its last
   successful run, ``--jobs`` at a time, into the jupyter-cache that Jupyter
   Book reads (``_build/.jupyter_cache``). A failing cell stops here with its
   traceback. (Jupyter Book would execute them too, but one at a time.) The
   notebooks expected to run longest start first (the last run in the cache,
   else the cell timings saved in the notebook), so that no long chapter runs
   on alone at the end; the log gives each notebook's time and its slowest
   cell. When ``dlbasics``, the requirements or data under ``chapters/``
   changed, the cache is emptied first, so no page shows outputs of older code.
2. **HTML**: ``jupyter-book build . -W -n --keep-going``; every warning
   (broken reference, unknown citation, missing glue key, bad docstring) is
   an error.
3. **Offline check**: no built page may load a script, stylesheet, image or
   frame from the network; MathJax and the widget manager come
   from ``_static/`` (vendored in ``_vendor/`` by tools/vendor_assets.sh).
4. **PDF**: the single-page HTML build, printed by headless Chromium to
   ``_build/pdf/deep-learning-basics.pdf`` after MathJax and the widgets have
   rendered, with every folded block (``<details>``) open; then copied into
   the site as ``_build/html/deep-learning-basics.pdf``, which the landing
   page links. Without Chromium the PDF is skipped with a message, except under
   ``CI=true`` where that is an error.

Steps 2 and 4 run at the same time (two processes, one per core of the
2-core machine that builds the book): the single-page build has its own build
folder, ``_build/single`` (Sphinx's environment and the extracted figures
cannot be shared by two builds at once), reads the same jupyter-cache, and
leaves out the image re-encoding that only makes the web pages lighter (WebP
in the widget state, palette PNGs). Their output goes to ``_build/logs/`` and
is printed when each build ends. Neither build executes a notebook: step 1
has cached them all.

Usage: ``python tools/build_book.py [--jobs N] [--no-pdf] [--clean] [--reuse-cache]``
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import html.parser
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
SINGLE = BUILD / "single"  # the single-page build's own build folder (--path-output)
SINGLEHTML = SINGLE / "_build" / "singlehtml"
PDF = BUILD / "pdf" / "deep-learning-basics.pdf"
CACHE = BUILD / ".jupyter_cache"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# <link rel=...> values that make the browser fetch the href.
FETCHING_RELS = {
    "stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut",
    "apple-touch-icon", "manifest", "mask-icon", "preconnect", "dns-prefetch",
}  # fmt: skip


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[build_book] {message}", flush=True)


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------- config
def load_yaml(path: Path) -> dict:
    import yaml

    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def toc_files(toc: dict) -> list[str]:
    """Every file named in a jb-book ``_toc.yml``, root first, in reading order."""
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


def toc_notebooks() -> list[Path]:
    """The notebooks of the book, in reading order."""
    notebooks = []
    for name in toc_files(load_yaml(ROOT / "_toc.yml")):
        path = ROOT / name
        if path.suffix != ".ipynb":
            path = path.with_suffix(".ipynb")
        if path.is_file():
            notebooks.append(path)
    return notebooks


# ------------------------------------------------------------------ execution
def _execute_notebook(
    path: str, timeout: int
) -> tuple[str, str, float, str | None, tuple[int, float] | None]:
    """Run one notebook in a worker process; return it executed, as JSON.

    Also returns the slowest code cell as (index among the notebook's cells,
    seconds), timed by nbclient's hooks: the notebook itself is not changed
    (jupyter-cache matches notebooks by their code cells *and* their metadata).
    """
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    started: dict[int, float] = {}
    seconds: dict[int, float] = {}

    def on_cell_execute(cell: object, cell_index: int) -> None:
        started[cell_index] = time.perf_counter()

    def on_cell_executed(cell: object, cell_index: int, execute_reply: object) -> None:
        seconds[cell_index] = time.perf_counter() - started.pop(cell_index, time.perf_counter())

    result = single_nb_execution(
        nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
        on_cell_execute=on_cell_execute, on_cell_executed=on_cell_executed,
    )
    error = None
    if result.err is not None:
        error = result.exc_string or f"{type(result.err).__name__}: {result.err}"
    slowest = max(seconds.items(), key=lambda item: item[1]) if seconds else None
    return path, nbformat.writes(nb), result.time, error, slowest


FINGERPRINT = CACHE / "inputs-fingerprint.txt"


def inputs_fingerprint() -> str:
    """Hash of what the notebooks run besides their own code.

    jupyter-cache keys a notebook on its code cells only; a change in dlbasics,
    in the requirements or in a data file next to the chapters must run the
    chapters again.
    """
    digest = hashlib.sha256(sys.version.encode())
    files = [ROOT / "requirements.txt", ROOT / "pyproject.toml"]
    files += sorted(p for p in (ROOT / "dlbasics").rglob("*") if "__pycache__" not in p.parts)
    files += sorted(
        p for p in (ROOT / "chapters").rglob("*")
        if p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts
    )
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def drop_stale_cache(fingerprint: str) -> None:
    if CACHE.exists() and (
        not FINGERPRINT.is_file() or FINGERPRINT.read_text().strip() != fingerprint
    ):
        log("execute: dlbasics, the requirements or chapter data changed since the"
            " cached runs: every notebook runs again")
        shutil.rmtree(CACHE)


def saved_cell_seconds(nb: dict) -> float:
    """Seconds the notebook's code cells took when it was last run and saved.

    Jupyter (nbclient, JupyterLab with cell timing on) stores when each cell
    started and finished in the cell's ``execution`` metadata; 0 without it.
    """
    from datetime import datetime

    total = 0.0
    for cell in nb.get("cells", []):
        timing = cell.get("metadata", {}).get("execution", {})
        try:
            start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        total += max(0.0, (end - start).total_seconds())
    return total


def longest_first(notebooks: list[Path], expected: dict[Path, float]) -> list[Path]:
    """``notebooks`` in the order to start them: longest expected run first.

    With two workers, a long chapter started last would run on alone at the
    end; started first, the short ones fill the other worker meanwhile. Ties
    (and notebooks without an estimate) keep their reading order.
    """
    return sorted(notebooks, key=lambda path: -expected.get(path, 0.0))


def expected_seconds(notebooks: list[Path], cache: object) -> dict[Path, float]:
    """How long each notebook is expected to run.

    The last run recorded in the jupyter-cache for the same file (an older
    version of it, when its code changed since), else the cell timings saved
    in the notebook itself (a cold build), else nothing.
    """
    import nbformat

    last_run: dict[str, tuple[object, float]] = {}
    try:
        records = cache.list_cache_records()  # type: ignore[attr-defined]
    except Exception:  # an unreadable cache only loses the estimates
        records = []
    for record in records:
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None and (
            record.uri not in last_run or record.created > last_run[record.uri][0]
        ):
            last_run[record.uri] = (record.created, float(seconds))
    expected = {}
    for path in notebooks:
        uri = str(path.absolute())
        if uri in last_run:
            expected[path] = last_run[uri][1]
        else:
            expected[path] = saved_cell_seconds(nbformat.read(path, as_version=4))
    return expected


def execute_notebooks(notebooks: list[Path], timeout: int, jobs: int) -> None:
    """Execute the notebooks jupyter-cache does not hold yet, ``jobs`` at a time,
    the longest expected first (:func:`longest_first`)."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    todo = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    log(f"execute: {len(notebooks) - len(todo)} notebook(s) cached, {len(todo)} to run")
    if not todo:
        return
    todo = longest_first(todo, expected_seconds(todo, cache))

    failures: list[tuple[str, str]] = []
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
        futures = [pool.submit(_execute_notebook, str(path), timeout) for path in todo]
        for future in as_completed(futures):
            path, text, seconds, error, slowest = future.result()
            name = shown(Path(path))
            if error is not None:
                log(f"execute: FAILED {name} after {seconds:.1f} s")
                failures.append((str(name), error))
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(
                    nbformat.reads(text, as_version=4),
                    str(Path(path).absolute()),
                    data={"execution_seconds": seconds},
                ),
                check_validity=False,
                overwrite=True,
            )
            detail = f" (slowest: cell {slowest[0]}, {slowest[1]:.1f} s)" if slowest else ""
            log(f"execute: {name} in {seconds:.1f} s{detail}")
    if failures:
        for name, error in failures:
            print(f"\n==== {name} ====\n{error}", file=sys.stderr)
        raise BuildError(f"{len(failures)} notebook(s) failed to execute: "
                         + ", ".join(name for name, _ in failures))


# ----------------------------------------------------------------- jupyter-book
class JupyterBookBuild:
    """``jupyter-book build`` (strict) running in a subprocess, its output in a log file.

    The HTML build and the single-page build run side by side, each in its own
    build folder (``--path-output``): Sphinx keeps its environment
    (``.doctrees``) and MyST-NB the figures it extracts (``jupyter_execute``)
    there, and neither may be shared by two builds at a time. Both read the
    executed notebooks from the one jupyter-cache (:func:`link_cache`), which
    step 1 has filled: neither runs a notebook.
    """

    def __init__(self, name: str, *args: str, path_output: Path | None = None) -> None:
        exe = Path(sys.executable).with_name("jupyter-book")
        command = [str(exe) if exe.exists() else "jupyter-book", "build", str(ROOT),
                   "-W", "-n", "--keep-going", *args]
        if path_output is not None:
            link_cache(path_output)
            command += ["--path-output", str(path_output)]
        self.name = name
        self.log_path = BUILD / "logs" / f"jupyter-book-{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log(f"run: {' '.join(command[1:])}  (output: {shown(self.log_path)})")
        self.started = time.perf_counter()
        self.finished: float | None = None
        with self.log_path.open("wb") as handle:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=handle,
                                            stderr=subprocess.STDOUT)
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.process.wait()
        self.finished = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Wall-clock seconds from its start to its end (so far, while it runs)."""
        return (self.finished or time.perf_counter()) - self.started

    def wait(self) -> None:
        """Wait for the build, print its output in one piece, fail if it failed."""
        self._waiter.join()
        sys.stdout.flush()
        sys.stdout.buffer.write(self.log_path.read_bytes())
        sys.stdout.flush()
        log(f"{self.name}: jupyter-book finished in {self.seconds:.1f} s")
        if self.process.returncode != 0:
            raise BuildError(
                f"jupyter-book {self.name} build failed (exit {self.process.returncode}):"
                f" see the warnings above (also in {shown(self.log_path)})"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self._waiter.join()


def link_cache(path_output: Path) -> None:
    """Let a build with ``--path-output`` read the executed notebooks of :data:`CACHE`.

    MyST-NB looks for the jupyter-cache in ``<path-output>/_build/.jupyter_cache``;
    a symbolic link there points it at the one :func:`execute_notebooks` filled.
    """
    link = path_output / "_build" / ".jupyter_cache"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    link.symlink_to(os.path.relpath(CACHE, link.parent), target_is_directory=True)


# -------------------------------------------------------------- offline check
class _ResourceFinder(html.parser.HTMLParser):
    """Collect the URLs a page makes the browser fetch."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.urls.append(("script src", a["src"]))
        elif tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & FETCHING_RELS:
                self.urls.append((f"link rel={a.get('rel')}", a["href"]))
        elif tag in {"img", "iframe", "embed", "source", "audio", "video", "track", "input"}:
            if a.get("src"):
                self.urls.append((f"{tag} src", a["src"]))
            for part in a.get("srcset", "").split(","):
                if part.strip():
                    self.urls.append((f"{tag} srcset", part.split()[0]))
        elif tag == "object" and a.get("data"):
            self.urls.append(("object data", a["data"]))
        if "style" in a:
            self._css(a["style"], f"{tag} style")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data, "<style>")

    def _css(self, css: str, where: str) -> None:
        import re

        for match in re.finditer(r"""(?:@import\s+(?:url\()?|url\()\s*['"]?([^'")\s;]+)""", css):
            self.urls.append((where, match.group(1)))


def is_remote(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in {"http", "https", "ftp"} or url.strip().startswith("//")


def remote_resources(site: Path) -> Iterator[tuple[Path, str, str]]:
    """(page, what, url) for every network fetch a built page would make."""
    for page in sorted(site.rglob("*.html")):
        finder = _ResourceFinder()
        finder.feed(page.read_text(encoding="utf-8", errors="replace"))
        for what, url in finder.urls:
            if is_remote(url):
                yield page, what, url
    for sheet in sorted(site.rglob("*.css")):
        finder = _ResourceFinder()
        finder._css(sheet.read_text(encoding="utf-8", errors="replace"), "stylesheet")
        for what, url in finder.urls:
            if is_remote(url):
                yield sheet, what, url


def check_offline(site: Path) -> int:
    """Fail when a built page loads anything from the network; return pages checked."""
    problems = [
        f"  {page.relative_to(site)}: {what} -> {url}" for page, what, url in remote_resources(site)
    ]
    if problems:
        raise BuildError(
            f"{len(problems)} network resource(s) in {shown(site)}"
            " (vendor them instead):\n" + "\n".join(problems)
        )
    needed = ["_static/mathjax/startup.js", "_static/mathjax/output/chtml/fonts/tex.js",
              "_static/html-manager/embed.js", "_static/widgets-offline.js"]
    missing = [name for name in needed if not (site / name).is_file()]
    if missing:
        raise BuildError(f"vendored assets missing from {shown(site)}: {missing}")
    return sum(1 for _ in site.rglob("*.html"))


# ------------------------------------------------------------------------ PDF
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def print_pdf(site: Path, output: Path) -> None:
    """Print the single-page book ``site/intro.html`` to ``output``, offline."""
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    blocked: list[str] = []

    def route(route_):  # every request that does not go to our server fails
        url = route_.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:")):
            route_.continue_()
        else:
            blocked.append(url)
            route_.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-background-networking"],
            )
            page = browser.new_page()
            page.route("**/*", route)
            # index.html only redirects to the root document
            page.goto(base + "intro.html", wait_until="load", timeout=120_000)
            # MathJax typesets after `load`; wait for it, then for the widgets.
            page.evaluate(
                "() => window.MathJax && window.MathJax.startup"
                " ? window.MathJax.startup.promise.then(() => true) : true"
            )
            page.wait_for_load_state("networkidle", timeout=60_000)
            page.wait_for_timeout(1000)
            # self-check answers fold away on screen; on paper they are printed
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            output.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(
                path=str(output),
                format="A4",
                print_background=True,
                margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
            )
            browser.close()
    finally:
        server.shutdown()
    if blocked:
        raise BuildError(f"the single-page book tried to reach the network: {blocked[:5]}")


def pdf_page_count(path: Path) -> int:
    """Pages of a Chromium-made PDF (page objects are not compressed there)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


def chromium_missing() -> bool:
    """True (after saying so) when there is no Chromium to print the PDF with."""
    if CHROMIUM.exists():
        return False
    message = (f"PDF skipped: no Chromium at {CHROMIUM} (install it with "
               "`apt-get install chromium`, or run `make browser` as root)")
    if IN_CI:
        raise BuildError(message + "; CI=true needs the PDF")
    log(message)
    return True


def build_pdf(single_page: JupyterBookBuild) -> None:
    """Wait for the single-page build, check it and print it to :data:`PDF`."""
    single_page.wait()
    check_offline(SINGLEHTML)
    # Printing takes half a minute: skip it when the single page is unchanged.
    page_hash = hashlib.sha256((SINGLEHTML / "intro.html").read_bytes()).hexdigest()
    stamp = PDF.with_suffix(".source-sha256")
    if PDF.is_file() and stamp.is_file() and stamp.read_text().strip() == page_hash:
        log(f"pdf: {shown(PDF)} is up to date ({pdf_page_count(PDF)} pages)")
    else:
        PDF.unlink(missing_ok=True)
        print_pdf(SINGLEHTML, PDF)
        stamp.write_text(page_hash + "\n")
        log(f"pdf: {shown(PDF)} ({pdf_page_count(PDF)} pages, "
            f"{PDF.stat().st_size / 1e6:.1f} MB)")


# ----------------------------------------------------------------------- main
def done_line(timings: dict[str, float]) -> str:
    """The steps' wall-clock times in build order; the PDF is made alongside the HTML."""
    order = ["execute", "html", "offline check", "pdf", "total"]
    steps = []
    for step in sorted(timings, key=lambda s: order.index(s) if s in order else len(order)):
        steps.append(f"{step} {timings[step]:.1f} s")
        if step == "pdf" and "html" in timings:
            steps[-1] += " (alongside the html)"
    return ", ".join(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", "2")),
                        help="notebooks executed in parallel (default: $JOBS or 2)")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    parser.add_argument("--clean", action="store_true",
                        help="remove _build first (the execution cache too)")
    parser.add_argument("--reuse-cache", action="store_true",
                        help="keep cached notebook runs even if dlbasics changed since")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        if args.clean and BUILD.exists():
            shutil.rmtree(BUILD)
        config = load_yaml(ROOT / "_config.yml")
        execute = config.get("execute", {})
        if execute.get("allow_errors"):
            raise BuildError("_config.yml sets execute.allow_errors: a failing cell must fail")

        start = time.perf_counter()
        if execute.get("execute_notebooks", "auto") != "off":
            fingerprint = inputs_fingerprint()
            if not args.reuse_cache:
                drop_stale_cache(fingerprint)
            try:
                execute_notebooks(toc_notebooks(), int(execute.get("timeout", 120)), args.jobs)
            finally:  # the notebooks that did run are cached for these inputs, even if one failed
                if CACHE.is_dir():
                    FINGERPRINT.write_text(fingerprint + "\n")
        timings["execute"] = time.perf_counter() - start

        # The HTML and the single page (for the PDF) are built at the same time;
        # the PDF is printed while the HTML build is still writing its pages.
        start = time.perf_counter()
        html_build = JupyterBookBuild("html")
        single_page = None
        try:
            if not args.no_pdf and not chromium_missing():
                single_page = JupyterBookBuild("singlehtml", "--builder", "singlehtml",
                                               path_output=SINGLE)
                build_pdf(single_page)
                timings["pdf"] = time.perf_counter() - start
        except BaseException:
            for build in (html_build, single_page):
                if build is not None:
                    build.stop()
            raise
        html_build.wait()
        timings["html"] = html_build.seconds

        check = time.perf_counter()
        pages = check_offline(HTML)
        timings["offline check"] = time.perf_counter() - check
        log(f"offline: {pages} pages load nothing from the network")
        if single_page is not None:
            shutil.copyfile(PDF, HTML / PDF.name)
            log(f"pdf: copied into the site as {shown(HTML / PDF.name)} (the landing page links it)")
        timings["total"] = time.perf_counter() - started
    except BuildError as error:
        print(f"\n[build_book] ERROR: {error}", file=sys.stderr)
        return 1
    log("done: " + done_line(timings))
    log(f"open {shown(HTML)}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
