/*
 * Lets the ipywidgets embed manager run from this site's own files, offline.
 *
 * MyST-NB loads this on pages that carry widget state, after require.js and
 * before html-manager/embed-amd.js (see nb_ipywidgets_js in _config.yml).
 *
 * 1. Module paths. The manager finds its Font Awesome fonts next to the AMD
 *    module that asks for them; without a path, require.js places the modules
 *    beside the page and the fonts 404. Point them at the vendored folder.
 * 2. MathJax. The manager typesets widget labels through the MathJax 2 API
 *    (MathJax.Hub.Queue); the book uses MathJax 3, so forward those calls to
 *    MathJax.typesetPromise.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (script && window.require && window.require.config) {
    var here = script.src.split(/[?#]/)[0];
    var dir = here.slice(0, here.lastIndexOf("/") + 1) + "html-manager";
    window.require.config({
      paths: {
        "@jupyter-widgets/base": dir + "/base",
        "@jupyter-widgets/controls": dir + "/controls",
        "@jupyter-widgets/output": dir + "/output",
        "@jupyter-widgets/html-manager": dir + "/html-manager",
        "@jupyter-widgets/html-manager/dist": dir,
      },
    });
  }

  function typeset(element) {
    var mathjax = window.MathJax;
    var ready = mathjax.startup && mathjax.startup.promise
      ? mathjax.startup.promise
      : Promise.resolve();
    ready
      .then(function () {
        return mathjax.typesetPromise(element ? [element] : undefined);
      })
      .catch(function (err) {
        console.warn("MathJax could not typeset a widget label:", err);
      });
  }

  function installMathJax2Shim() {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.typesetPromise || mathjax.Hub) {
      return;
    }
    mathjax.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset") {
            typeset(job[2]);
          }
        }
      },
    };
  }

  // MathJax is loaded with `defer`: it exists by DOMContentLoaded, and the
  // widgets are rendered on `load`, after these listeners.
  installMathJax2Shim();
  document.addEventListener("DOMContentLoaded", installMathJax2Shim);
  window.addEventListener("load", installMathJax2Shim);
})();
