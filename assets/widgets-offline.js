/*
 * The widget pages of this site, offline and accessible.
 *
 * MyST-NB loads this on pages that carry widget state, before
 * html-manager/embed.js (see nb_ipywidgets_js in _config.yml).
 *
 * 1. MathJax. The manager typesets widget labels through the MathJax 2 API
 *    (MathJax.Hub.Queue); the book uses MathJax 3, so forward those calls to
 *    MathJax.typesetPromise.
 * 2. Alt text. Every image an explorer draws gets the explorer's description
 *    (data-alt, written by tools/sphinx_reader_view.py from the cell's
 *    metadata) followed by the explorer's current settings, and keeps it up to
 *    date as the controls move.
 */
(function () {
  "use strict";

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

  // The settings an explorer shows: "label = value" for every control.
  function settings(explorer) {
    var parts = [];
    explorer.querySelectorAll(".widget-inline-hbox, .widget-toggle-buttons").forEach(function (c) {
      var label = c.querySelector(".widget-label");
      var name = label ? label.textContent.trim() : "";
      var value = "";
      var readout = c.querySelector(".widget-readout");
      var select = c.querySelector("select");
      var active = c.querySelector("button.mod-active");
      if (readout) value = readout.textContent.trim();
      else if (select && select.selectedIndex >= 0) value = select.options[select.selectedIndex].text;
      else if (active) value = active.textContent.trim();
      if (name && value) parts.push(name + " = " + value);
    });
    return parts.join(", ");
  }

  function describe() {
    document.querySelectorAll(".dlbasics-explorer-output").forEach(function (output) {
      var text = output.getAttribute("data-alt") || "Figure of the explorer";
      output.querySelectorAll(".dlbasics-explorer").forEach(function (explorer) {
        var now = settings(explorer);
        var alt = now ? text + " (" + now + ")" : text;
        explorer.querySelectorAll("img").forEach(function (img) {
          if (img.getAttribute("alt") !== alt) img.setAttribute("alt", alt);
        });
      });
    });
  }

  var pending = false;
  function later() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      describe();
    });
  }

  function watch() {
    installMathJax2Shim();
    new MutationObserver(later).observe(document.body, {
      childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["class", "value"],
    });
    document.addEventListener("change", later, true);
  }

  // MathJax is loaded with `defer`: it exists by DOMContentLoaded, and the
  // widgets are rendered on `load`, after these listeners.
  installMathJax2Shim();
  document.addEventListener("DOMContentLoaded", watch);
  window.addEventListener("load", installMathJax2Shim);
})();
