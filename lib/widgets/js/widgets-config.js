// Loaded on every page with widgets, after require.js and before the widget
// manager (see nb_ipywidgets_js in _config.yml). It points require.js at the
// copies of anywidget and the HTML manager that the book serves itself, so no
// page ever falls back to a CDN, and gives MathJax 3 the MathJax 2 entry point
// (MathJax.Hub.Queue) that ipywidgets 8 still calls.
(function () {
  var base = document.currentScript.src.replace(/[^/]*$/, "");
  var dist = base + "html-manager/dist/";
  // embed-amd.js defines these modules itself; each derives the folder of its
  // font files from its module URI, so every one of them must resolve into
  // html-manager/dist/, where the fonts are (else some pages ask for fonts at
  // the wrong place, depending on which module's CSS lands first).
  window.require.config({
    paths: {
      anywidget: base + "anywidget/index",
      "@jupyter-widgets/html-manager": dist + "html-manager",
      "@jupyter-widgets/html-manager/dist": dist.slice(0, -1),
      "@jupyter-widgets/base": dist + "base",
      "@jupyter-widgets/base7": dist + "base7",
      "@jupyter-widgets/controls": dist + "controls",
      "@jupyter-widgets/controls7": dist + "controls7",
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
