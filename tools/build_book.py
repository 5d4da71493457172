"""Build the book: ``make book`` runs this.

Steps, each of which fails the build (non-zero exit) when it goes wrong:

1. **Execute** every notebook of ``_toc.yml`` whose code changed since its last
   successful run, ``--jobs`` at a time, into the jupyter-cache that Jupyter
   Book reads (``_build/.jupyter_cache``). A failing cell stops here with its
   traceback. (Jupyter Book would execute them too, but one at a time.) When
   ``dlbasics``, the requirements or data under ``chapters/`` changed, the
   cache is emptied first, so no page shows outputs of older code.
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
SINGLEHTML = BUILD / "singlehtml"
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
def _execute_notebook(path: str, timeout: int) -> tuple[str, str, float, str | None]:
    """Run one notebook in a worker process; return it executed, as JSON."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(
        nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False
    )
    error = None
    if result.err is not None:
        error = result.exc_string or f"{type(result.err).__name__}: {result.err}"
    return path, nbformat.writes(nb), result.time, error


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


def execute_notebooks(notebooks: list[Path], timeout: int, jobs: int) -> None:
    """Execute the notebooks jupyter-cache does not hold yet, ``jobs`` at a time."""
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

    failures: list[tuple[str, str]] = []
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
        futures = [pool.submit(_execute_notebook, str(path), timeout) for path in todo]
        for future in as_completed(futures):
            path, text, seconds, error = future.result()
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
            log(f"execute: {name} in {seconds:.1f} s")
    if failures:
        for name, error in failures:
            print(f"\n==== {name} ====\n{error}", file=sys.stderr)
        raise BuildError(f"{len(failures)} notebook(s) failed to execute: "
                         + ", ".join(name for name, _ in failures))


# ----------------------------------------------------------------- jupyter-book
def jupyter_book(*args: str) -> None:
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else "jupyter-book", "build", str(ROOT),
               "-W", "-n", "--keep-going", *args]
    log("run: " + " ".join(command[1:]))
    completed = subprocess.run(command, cwd=ROOT)
    if completed.returncode != 0:
        raise BuildError(
            f"jupyter-book {' '.join(args) or 'html'} build failed (exit {completed.returncode}):"
            " see the warnings above"
        )


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


def build_pdf() -> None:
    if not CHROMIUM.exists():
        message = (f"PDF skipped: no Chromium at {CHROMIUM} (install it with "
                   "`apt-get install chromium`, or run `make browser` as root)")
        if IN_CI:
            raise BuildError(message + "; CI=true needs the PDF")
        log(message)
        return
    jupyter_book("--builder", "singlehtml")
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
    shutil.copyfile(PDF, HTML / PDF.name)
    log(f"pdf: copied into the site as {shown(HTML / PDF.name)} (the landing page links it)")


# ----------------------------------------------------------------------- main
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

        start = time.perf_counter()
        jupyter_book()
        timings["html"] = time.perf_counter() - start

        start = time.perf_counter()
        pages = check_offline(HTML)
        timings["offline check"] = time.perf_counter() - start
        log(f"offline: {pages} pages load nothing from the network")

        if not args.no_pdf:
            start = time.perf_counter()
            build_pdf()
            timings["pdf"] = time.perf_counter() - start
    except BuildError as error:
        print(f"\n[build_book] ERROR: {error}", file=sys.stderr)
        return 1
    log("done: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()))
    log(f"open {shown(HTML)}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
