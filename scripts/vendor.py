"""Assemble ``_vendor/vendor/``: every script the built book loads, served locally.

Sphinx copies ``_vendor/`` into ``_build/html/_static/`` (``html_static_path`` in
``_config.yml``), so the published pages load require.js, the Jupyter widgets
HTML manager, anywidget's front end and MathJax from the book itself, never
from a CDN. The files come from pinned npm packages (``package-lock.json``) and
from the pinned ``anywidget`` pip package, so the front end always matches the
anywidget version recorded in each page's widget state. Nothing here is
committed to git.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import anywidget

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
OUT = ROOT / "_vendor" / "vendor"


def copy(src: Path, dst: Path) -> None:
    if not src.exists():
        raise SystemExit(f"vendor: {src} is missing; run `make setup` first")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    copy(NODE / "requirejs" / "require.js", OUT / "require.js")
    # embed-amd.js derives its public path (for its font files) from the AMD
    # module URI, which widgets-config.js maps to html-manager/ below.
    copy(NODE / "@jupyter-widgets" / "html-manager" / "dist", OUT / "html-manager" / "dist")
    for junk in (OUT / "html-manager" / "dist").glob("*.map"):
        junk.unlink()
    copy(NODE / "mathjax" / "es5", OUT / "mathjax")
    copy(Path(anywidget.__file__).parent / "nbextension" / "index.js", OUT / "anywidget" / "index.js")
    copy(ROOT / "lib" / "widgets" / "js" / "widgets-config.js", OUT / "widgets-config.js")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"vendor: {OUT.relative_to(ROOT)} assembled ({size / 1e6:.1f} MB, anywidget {anywidget.__version__})")


if __name__ == "__main__":
    main()
