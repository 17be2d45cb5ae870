"""One figure style for every chapter.

Call :func:`use_book_style` once at the top of a chapter, then make figures
with :func:`figure` (a titled, labelled axes) and :func:`heatmap`.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import ArrayLike

#: A colour-blind-safe cycle (Okabe & Ito), used for lines in every chapter.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

BOOK_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.grid": True,
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

    >>> use_book_style()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["axes.grid"]
    True
    """
    mpl.rcParams.update(BOOK_STYLE)


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
            symmetric: bool = True, colorbar: bool = True, annotate: bool = False):
    """Draw ``matrix[j, i]`` as an image with row j down and column i across.

    ``symmetric`` centres a diverging colour map on zero, so that positive
    and negative entries are told apart by colour. Returns the image.

    >>> fig, ax = plt.subplots()
    >>> im = heatmap(ax, [[1.0, -1.0], [-1.0, 1.0]], title="J")
    >>> im.get_clim()
    (-1.0, 1.0)
    >>> plt.close(fig)
    """
    m = np.asarray(matrix, dtype=float)
    limit = float(np.max(np.abs(m))) or 1.0
    kwargs = {"vmin": -limit, "vmax": limit, "cmap": "RdBu_r"} if symmetric else {"cmap": "viridis"}
    im = ax.imshow(m, **kwargs)
    ax.grid(False)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    if annotate:
        for (r, c), v in np.ndenumerate(m):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return im
