"""One look for the whole book: colours and fonts shared by matplotlib and the widgets.

The widgets' CSS variables and the matplotlib style are both generated from
:data:`PALETTE` and :data:`FONT`, so a static figure and a live widget on the
same page use the same colours, type and grid.
"""

from __future__ import annotations

from cycler import cycler

PALETTE = {
    "ink": "#1f2933",      # text and axes
    "muted": "#6b7280",    # secondary text, ticks
    "grid": "#e5e7eb",     # grid lines and panel borders
    "paper": "#ffffff",    # background
    "panel": "#f8fafc",    # widget panel background
    "blue": "#2563eb",
    "orange": "#ea580c",
    "green": "#16a34a",
    "red": "#dc2626",
    "purple": "#7c3aed",
    "teal": "#0891b2",
}

#: Order in which data series take colours, in matplotlib and in the widgets.
CYCLE = ["blue", "orange", "green", "red", "purple", "teal"]

FONT = {
    "family": ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"],
    "size": 12,
}


def css_font_family() -> str:
    return ", ".join(f'"{f}"' if " " in f else f for f in FONT["family"])


def mpl_rc() -> dict:
    """matplotlib rcParams for the book's figures."""
    return {
        "figure.facecolor": PALETTE["paper"],
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "axes.facecolor": PALETTE["paper"],
        "axes.edgecolor": PALETTE["muted"],
        "axes.labelcolor": PALETTE["ink"],
        "axes.titlesize": FONT["size"] + 1,
        "axes.titleweight": "bold",
        "axes.grid": True,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=[PALETTE[c] for c in CYCLE]),
        "grid.color": PALETTE["grid"],
        "grid.linewidth": 0.8,
        "xtick.color": PALETTE["muted"],
        "ytick.color": PALETTE["muted"],
        "text.color": PALETTE["ink"],
        "font.family": "sans-serif",
        "font.sans-serif": FONT["family"],
        "font.size": FONT["size"] - 1,
        "legend.frameon": False,
        "lines.linewidth": 2.0,
    }


def widget_css() -> str:
    """CSS variables and base rules for every widget (prepended to each widget's CSS)."""
    colours = "\n".join(f"  --fc-{name}: {value};" for name, value in PALETTE.items())
    cycle = "\n".join(f"  --fc-c{i}: {PALETTE[c]};" for i, c in enumerate(CYCLE))
    return f""".fc-widget {{
{colours}
{cycle}
  --fc-font: {css_font_family()};
  --fc-size: {FONT["size"]}px;
}}
"""
