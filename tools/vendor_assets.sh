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
MATHJAX_VERSION=3.2.2         # MathJax 3: TeX input, CommonHTML output

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/_vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent \
    "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" \
    "mathjax@$MATHJAX_VERSION" >/dev/null
for pkg in *.tgz; do
    mkdir "${pkg%.tgz}"
    tar -xzf "$pkg" -C "${pkg%.tgz}"
done

hm="jupyter-widgets-html-manager-$HTML_MANAGER_VERSION/package"
mj="mathjax-$MATHJAX_VERSION/package"

rm -rf "$dest"
mkdir -p "$dest/html-manager" "$dest/mathjax"

# Widget manager: the standalone bundle (base, controls, output and the
# manager in one 1.9 MB file that renders the saved widgets on `load`; the AMD
# build is twice that and needs require.js) and the Font Awesome woff2 fonts
# its CSS asks for, next to it (fetched only when a widget shows an icon).
cp "$hm/dist/embed.js" "$dest/html-manager/"
cp "$hm"/dist/*.woff2 "$dest/html-manager/"
cp "$hm/dist/embed.js.LICENSE.txt" "$dest/html-manager/LICENSE.txt"

# MathJax: its loader and the components a page needs, not a combined file:
# TeX input (with the extensions it loads on demand), CommonHTML output and
# assistive MathML for screen readers; no contextual menu (0.4 MB). CommonHTML
# draws glyphs with the MathJax web fonts, fetched only when a page uses them
# (a chapter needs a few of the 23, 10-40 kB each); the SVG output carries
# every glyph of every font in one 1.1 MB script. _config.yml
# (mathjax3_config) lists the components: about 0.9 MB a page, against
# 2.3 MB for tex-svg-full.js and 1.7 MB for the same components with SVG.
mkdir -p "$dest/mathjax/input/tex" "$dest/mathjax/output/chtml/fonts" "$dest/mathjax/a11y"
cp "$mj/es5/startup.js" "$mj/es5/core.js" "$dest/mathjax/"
cp "$mj/es5/input/tex.js" "$dest/mathjax/input/"
cp -r "$mj/es5/input/tex/extensions" "$dest/mathjax/input/tex/"
cp "$mj/es5/output/chtml.js" "$dest/mathjax/output/"
cp "$mj/es5/output/chtml/fonts/tex.js" "$dest/mathjax/output/chtml/fonts/"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$dest/mathjax/output/chtml/fonts/"
cp "$mj/es5/a11y/assistive-mml.js" "$dest/mathjax/a11y/"
cp "$mj/LICENSE" "$dest/mathjax/LICENSE"

cat > "$dest/VERSIONS.txt" <<EOF
@jupyter-widgets/html-manager $HTML_MANAGER_VERSION (BSD-3-Clause)
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
