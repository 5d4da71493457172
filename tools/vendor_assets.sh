#!/usr/bin/env bash
# Re-fetch the JavaScript the built book loads, so the site needs no CDN.
#
# The files land in _vendor/ and are committed; Sphinx copies them into the
# site's _static/ (`html_static_path` in _config.yml). They must not live in a
# top-level _static/ folder: Jupyter Book would load every .js file found
# there on every page. `make book` never downloads anything.
#
# Run this only to move to another pinned version, then rebuild the book and
# run the browser tests (`make test`).
#
#   tools/vendor_assets.sh
#
# Needs npm (the registry only, through `npm pack`).
set -euo pipefail

HTML_MANAGER_VERSION=1.0.15   # @jupyter-widgets/html-manager, the ipywidgets 8 embedder
REQUIREJS_VERSION=2.3.8       # AMD loader the widget embedder needs
MATHJAX_VERSION=3.2.2         # MathJax 3, SVG output: no web fonts to ship

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/_vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent \
    "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" \
    "requirejs@$REQUIREJS_VERSION" \
    "mathjax@$MATHJAX_VERSION" >/dev/null
for pkg in *.tgz; do
    mkdir "${pkg%.tgz}"
    tar -xzf "$pkg" -C "${pkg%.tgz}"
done

hm="jupyter-widgets-html-manager-$HTML_MANAGER_VERSION/package"
rq="requirejs-$REQUIREJS_VERSION/package"
mj="mathjax-$MATHJAX_VERSION/package"

rm -rf "$dest"
mkdir -p "$dest/html-manager" "$dest/requirejs" "$dest/mathjax"

# Widget manager: the AMD bundle (base, controls, output and the manager in one
# file) and the Font Awesome woff2 fonts its CSS asks for, next to it.
cp "$hm/dist/embed-amd.js" "$dest/html-manager/"
cp "$hm"/dist/*.woff2 "$dest/html-manager/"
cp "$hm/dist/embed.js.LICENSE.txt" "$dest/html-manager/LICENSE.txt"

# require.js carries its MIT licence in its header comment.
cp "$rq/require.js" "$dest/requirejs/"

# MathJax: one combined component, TeX input with every extension, SVG output
# (glyphs drawn as paths, so no font files), menu and assistive MathML included.
cp "$mj/es5/tex-svg-full.js" "$dest/mathjax/"
cp "$mj/LICENSE" "$dest/mathjax/LICENSE"

cat > "$dest/VERSIONS.txt" <<EOF
@jupyter-widgets/html-manager $HTML_MANAGER_VERSION (BSD-3-Clause)
requirejs $REQUIREJS_VERSION (MIT)
mathjax $MATHJAX_VERSION (Apache-2.0)
Fetched by tools/vendor_assets.sh with npm pack.
EOF

# Keep every vendored file under 5 MB.
big="$(find "$dest" -type f -size +5M)"
if [ -n "$big" ]; then
    echo "vendored file over 5 MB: $big" >&2
    exit 1
fi
du -ah "$dest" | sort -k2
