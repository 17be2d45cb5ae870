"""One figure style for every chapter.

Call :func:`use_book_style` once at the top of a chapter, then make figures
with :func:`figure` (a titled, labelled axes) and :func:`heatmap`.

The figures are drawn for readers on any screen and in any colour scheme:

* **sharp on high-DPI screens**: inside a notebook kernel, figures are sent as
  PNG at twice their resolution with their display size attached (IPython's
  ``retina`` format), so they show at their normal size with twice the
  detail. PNG rather than SVG: nbval compares SVG text, and matplotlib's
  SVG differs from CPU to CPU in its last digits.
* **readable in light and dark mode**: the background is transparent and text,
  axes, ticks and grid are drawn in :data:`INK`, a neutral grey that reads on
  white and on a near-black page. Reference lines are drawn in grey, not black.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

#: Text, axes, ticks and grid: a grey that reads on white (contrast 4.5:1, WCAG's
#: AA level for text) and on the near-black of dark themes (4.1:1 on #121212).
INK = "#767676"

#: A colour-blind-safe cycle (Okabe & Ito), used for lines in every chapter;
#: the palette's black is replaced by :data:`INK`, which also reads on a dark page.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", INK]

BOOK_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,                 # the size a figure is shown at (100 pixels per inch)
    "savefig.dpi": 200,                # files written with savefig: twice as sharp
    "figure.facecolor": "none",        # transparent: the page's own background shows
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "font.size": 11,
    "axes.titlesize": 12,
    "figure.titlesize": 13,            # a suptitle stands above its panels' titles...
    "figure.constrained_layout.h_pad": 0.1,   # ...with a clear gap (inches; default 0.04)
    "axes.labelsize": 11,
    "text.color": INK,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "patch.edgecolor": INK,            # e.g. annotation arrows
    "hatch.color": INK,
    "axes.grid": True,
    "grid.color": INK,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "lines.linewidth": 2.0,
    "legend.frameon": False,
    "image.cmap": "RdBu_r",
    "svg.hashsalt": "softmax-book",
}


def use_book_style() -> None:
    """Apply the book's matplotlib settings (idempotent).

    In an IPython kernel, figures are also sent as PNG at twice the
    resolution ('retina'), with their display size in the output's metadata.

    >>> use_book_style()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["axes.grid"], mpl.rcParams["text.color"] == INK
    (True, True)
    """
    mpl.rcParams.update(BOOK_STYLE)
    _retina_png()


def _retina_png() -> None:
    """In an IPython shell, show figures as PNG at twice the resolution."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing is displayed inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def figure(title: str, xlabel: str, ylabel: str, *, figsize: tuple[float, float] | None = None):
    """A new figure with one axes, already titled and labelled.

    Returns
    -------
    (matplotlib.figure.Figure, matplotlib.axes.Axes)

    >>> fig, ax = figure("A title", "x", "y")
    >>> ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
    ('A title', 'x', 'y')
    >>> plt.close(fig)
    """
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def heatmap(ax, matrix: ArrayLike, *, title: str, xlabel: str = "i (input)", ylabel: str = "j (output)",
            symmetric: bool = True, colorbar: bool = True, annotate: bool = False,
            limit: float | None = None):
    """Draw ``matrix[j, i]`` as an image with row j down and column i across.

    Rows and columns are labelled from 1, as the prose counts (``matrix[0, 0]``
    is the entry of row 1, column 1). ``symmetric`` centres a diverging colour
    map on zero, so that positive and negative entries are told apart by
    colour; its scale runs from ``-limit`` to ``limit``, by default the largest
    absolute entry (pass one ``limit`` to put several panels on one scale).
    ``annotate`` writes each value in its cell, in black or white, whichever
    reads on the cell's colour. Returns the image.

    >>> fig, ax = plt.subplots()
    >>> im = heatmap(ax, [[1.0, -1.0], [-1.0, 1.0]], title="J")
    >>> im.get_clim()
    (-1.0, 1.0)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '2']
    >>> heatmap(ax, [[0.5]], title="on a shared scale", limit=2.0).get_clim()
    (-2.0, 2.0)
    >>> plt.close(fig)
    """
    m = np.asarray(matrix, dtype=float)
    if limit is None:
        limit = float(np.max(np.abs(m))) or 1.0
    kwargs = {"vmin": -limit, "vmax": limit, "cmap": "RdBu_r"} if symmetric else {"cmap": "viridis"}
    im = ax.imshow(m, **kwargs)
    ax.grid(False)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(m.shape[1]), labels=[str(k + 1) for k in range(m.shape[1])])
    ax.set_yticks(range(m.shape[0]), labels=[str(k + 1) for k in range(m.shape[0])])
    if annotate:
        for (r, c), v in np.ndenumerate(m):
            red, green, blue, _ = im.cmap(im.norm(v))
            light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if light else "white")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return im
