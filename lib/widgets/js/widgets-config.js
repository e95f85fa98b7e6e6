// Loaded on every page with widgets, after require.js and before the widget
// manager (see nb_ipywidgets_js in _config.yml). It points require.js at the
// copies of anywidget and the HTML manager that the book serves itself, so no
// page ever falls back to a CDN, and gives MathJax 3 the MathJax 2 entry point
// (MathJax.Hub.Queue) that ipywidgets 8 still calls.
(function () {
  var base = document.currentScript.src.replace(/[^/]*$/, "");
  window.require.config({
    paths: {
      anywidget: base + "anywidget/index",
      "@jupyter-widgets/html-manager": base + "html-manager",
    },
  });
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (mj && !mj.Hub) {
      mj.Hub = {
        Queue: function () {
          if (mj.typesetPromise) mj.typesetPromise();
        },
      };
    }
  });
})();
