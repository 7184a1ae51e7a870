"""Draw the series' diagrams into imgs/ with matplotlib only (patches, arrows, text).

    python tools/make_diagrams.py            # regenerate every diagram into imgs/
    python tools/make_diagrams.py --check    # regenerate into a temporary folder and compare with imgs/

The output is deterministic: fixed figure sizes, no timestamps, no "Software" tag, so one matplotlib
version always writes the same pixels (and, with the same PNG encoder, the same bytes). `--check` exits
with status 1 and lists the diagrams whose pixels differ from the committed files.

Style: 150 dpi, 1620 px wide, text of at least 14 pt, and the Okabe-Ito palette (safe for the common
kinds of colour blindness), one colour per kind of component in every diagram: gpt_from_scratch/palette.py,
which the widgets and the notebooks' figures use too. Masked attention cells are palette.MASKED grey.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gpt_from_scratch import GPT_CONFIG_124M, meta_model, parameter_breakdown  # noqa: E402
from gpt_from_scratch.palette import COLOURS, MASKED, edge, fill, mix  # noqa: E402, F401

IMGS = ROOT / "imgs"
DPI = 150
WIDTH = 10.8  # inches: 1620 px at 150 dpi
SOURCE = f"gpt-from-scratch tools/make_diagrams.py, matplotlib {matplotlib.__version__}"

INK = "#1a1a1a"
MUTED = "#444444"
TITLE_PT, BOX_PT, DETAIL_PT = 22, 17, 14

plt.rcParams.update({
    "font.family": "DejaVu Sans",
    "font.size": DETAIL_PT,
    "text.color": INK,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "svg.hashsalt": "gpt-from-scratch",
})


# ----------------------------------------------------------------------------- drawing helpers


def canvas(height, title=None):
    """A white figure WIDTH x height inches whose data coordinates are inches (origin bottom-left)."""
    fig = plt.figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.text(WIDTH / 2, height - 0.42, title, ha="center", va="center", fontsize=TITLE_PT, weight="bold")
    return fig, ax


class Box:
    """A rounded box drawn at centre (cx, cy); its sides give the anchor points for arrows."""

    def __init__(self, ax, cx, cy, w, h, title, detail=None, kind="data", title_pt=BOX_PT, lw=2.5):
        self.cx, self.cy, self.w, self.h = cx, cy, w, h
        ax.add_patch(FancyBboxPatch(
            (cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.12",
            facecolor=fill(kind), edgecolor=edge(kind), linewidth=lw, zorder=2,
        ))
        if detail is None:
            ax.text(cx, cy, title, ha="center", va="center", fontsize=title_pt, weight="bold", zorder=3)
        else:
            ax.text(cx, cy + 0.03, title, ha="center", va="bottom", fontsize=title_pt, weight="bold", zorder=3)
            ax.text(cx, cy - 0.03, detail, ha="center", va="top", fontsize=DETAIL_PT, zorder=3)

    @property
    def top(self):
        return (self.cx, self.cy + self.h / 2)

    @property
    def bottom(self):
        return (self.cx, self.cy - self.h / 2)

    @property
    def left(self):
        return (self.cx - self.w / 2, self.cy)

    @property
    def right(self):
        return (self.cx + self.w / 2, self.cy)


def arrow(ax, start, end, colour=INK, lw=2.5, head=22, style="-|>", **kwargs):
    ax.add_patch(FancyArrowPatch(
        start, end, arrowstyle=style, mutation_scale=head, color=colour, linewidth=lw,
        shrinkA=0, shrinkB=0, zorder=1, **kwargs,
    ))


def path(ax, points, colour=INK, lw=2.5, head=True):
    """A polyline through `points`; an arrow head on its last segment."""
    xs, ys = zip(*points)
    ax.plot(xs[:-1], ys[:-1], color=colour, linewidth=lw, solid_capstyle="butt", solid_joinstyle="miter", zorder=1)
    if head:
        arrow(ax, points[-2], points[-1], colour=colour, lw=lw)
    else:
        ax.plot(xs[-2:], ys[-2:], color=colour, linewidth=lw, zorder=1)


def plus(ax, cx, cy, r=0.26, colour=COLOURS["block"]):
    """A circled plus: where a shortcut adds its input back."""
    ax.add_patch(Circle((cx, cy), r, facecolor="white", edgecolor=colour, linewidth=2.5, zorder=2))
    ax.text(cx, cy, "+", ha="center", va="center", fontsize=22, weight="bold", color=colour, zorder=3)


def label(ax, x, y, text, size=DETAIL_PT, colour=MUTED, **kwargs):
    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "center")
    ax.text(x, y, text, fontsize=size, color=colour, zorder=3, **kwargs)


def n(value):
    """An int with thousands separators: 50257 -> '50,257'."""
    return f"{value:,}"


# ----------------------------------------------------------------------------- the diagrams


def gpt_overview():
    cfg = GPT_CONFIG_124M
    fig, ax = canvas(9.55, "GPT-2: from text to the next token")
    w, h = 4.5, 0.86
    left, right = 2.65, 8.05

    # Left column, top to bottom: the input side.
    text = Box(ax, left, 7.95, w, h, "text", '"Hello, I am"')
    tokens = Box(ax, left, 6.75, w, h, "tokens", '"Hello"  ","  " I"  " am"')
    ids = Box(ax, left, 5.55, w, h, "token ids", "[15496, 11, 314, 716]   (1, 4)")
    tok = Box(ax, left - 1.17, 4.05, 2.16, 1.0, "token", f"embedding\n{n(cfg['vocab_size'])} × {cfg['emb_dim']}",
              kind="embed", title_pt=16)
    pos = Box(ax, left + 1.17, 4.05, 2.16, 1.0, "positional", f"embedding\n{n(cfg['context_length'])} × {cfg['emb_dim']}",
              kind="embed", title_pt=16)
    plus(ax, left, 2.95)
    drop = Box(ax, left, 1.6, w, h, "dropout", "(1, 4, 768)   only while training", kind="drop")
    for a, b in ((text, tokens), (tokens, ids)):
        arrow(ax, a.bottom, b.top)
    path(ax, [ids.bottom, (left, 4.92), (tok.cx, 4.92), tok.top])
    # The position table is indexed by the positions 0 .. T-1, not by the token ids.
    label(ax, pos.cx + 0.1, 4.83, "positions 0, 1, 2, 3", colour=INK)
    arrow(ax, (pos.cx, 4.68), pos.top)
    path(ax, [tok.bottom, (tok.cx, 2.95), (left - 0.26, 2.95)])
    path(ax, [pos.bottom, (pos.cx, 2.95), (left + 0.26, 2.95)])
    arrow(ax, (left, 2.69), drop.top)
    label(ax, left + 0.12, 2.4, "(1, 4, 768)", ha="left")

    # Right column, bottom to top: the model's body and its output.
    for k in (2, 1):  # two shadow cards behind the front one: a stack of blocks
        ax.add_patch(FancyBboxPatch(
            (right - w / 2 + 0.12 * k, 1.6 - 0.78 + 0.12 * k), w, 1.56, boxstyle="round,pad=0,rounding_size=0.12",
            facecolor=fill("block"), edgecolor=edge("block"), linewidth=2, zorder=1.5,
        ))
    blocks = Box(ax, right, 1.6, w, 1.56, f"{cfg['n_layers']} × transformer block",
                 "attention + feed-forward\n(1, 4, 768) in and out", kind="block")
    norm = Box(ax, right, 3.35, w, h, "final LayerNorm", "(1, 4, 768)", kind="norm")
    head = Box(ax, right, 4.55, w, h, "output head",
               f"Linear {cfg['emb_dim']} → {n(cfg['vocab_size'])}", kind="head")
    logits = Box(ax, right, 5.75, w, h, "logits", f"(1, 4, {n(cfg['vocab_size'])}): a score per token",
                 kind="head")
    nxt = Box(ax, right, 7.15, w, 1.1, "next token", "argmax (or a sample) of the\nlast position's scores")
    arrow(ax, drop.right, (right - w / 2, 1.6))
    for a, b in ((blocks, norm), (norm, head), (head, logits), (logits, nxt)):
        arrow(ax, (b.cx, a.cy + a.h / 2 + (0.12 if a is blocks else 0)), b.bottom)
    # Generation feeds the new token back in (notebook 09).
    path(ax, [nxt.top, (right, 8.45), (left + w / 2 + 0.35, 8.45), (left + w / 2 + 0.35, 7.95), text.right],
         colour=MUTED, lw=2)
    label(ax, (left + right) / 2 + 0.35, 8.7, "append it to the text and repeat", colour=MUTED)
    return fig


def transformer_block():
    fig, ax = canvas(7.4, "Transformer block (pre-LayerNorm)")
    label(ax, WIDTH / 2, 6.55, "every arrow carries a (batch, seq, emb_dim) tensor", size=15)
    ax.add_patch(FancyBboxPatch((0.2, 0.3), WIDTH - 0.4, 5.85, boxstyle="round,pad=0,rounding_size=0.2",
                                facecolor="none", edgecolor=edge("block"), linewidth=2, linestyle=(0, (6, 4))))
    blue = COLOURS["block"]
    h = 0.9
    rows = [
        (4.55, "norm1", "masked multi-head\nattention", "attn", 5.55,
         "1 · attention: each token gathers information from earlier tokens"),
        (1.75, "norm2", "feed-forward\n(768 → 3072 → 768)", "ff", 0.72,
         "2 · feed-forward: each token is transformed on its own"),
    ]
    for i, (y, norm_name, mid_text, mid_kind, shortcut_y, caption) in enumerate(rows):
        start = 0.45
        junction = 1.05
        ln = Box(ax, 2.45, y, 1.95, h, "LayerNorm", norm_name, kind="norm")
        mid = Box(ax, 5.2, y, 2.75, h, mid_text, kind=mid_kind, title_pt=16)
        drop = Box(ax, 7.6, y, 1.55, h, "dropout", kind="drop", title_pt=16)
        px = 9.15
        plus(ax, px, y)
        if i == 0:
            arrow(ax, (start, y), ln.left)
            label(ax, start + 0.05, y + 0.28, "x", size=18, colour=INK, ha="left", weight="bold")
        arrow(ax, ln.right, mid.left)
        arrow(ax, mid.right, drop.left)
        arrow(ax, drop.right, (px - 0.26, y))
        ax.add_patch(Circle((junction, y), 0.07, color=blue, zorder=3))
        side = 0.26 if shortcut_y > y else -0.26
        path(ax, [(junction, y), (junction, shortcut_y), (px, shortcut_y), (px, y + side)], colour=blue)
        label(ax, (junction + px) / 2, shortcut_y + (0.22 if shortcut_y > y else -0.22),
              "shortcut: x is added back unchanged", colour=blue, size=15)
        label(ax, 5.05, y - h / 2 - 0.3, caption, size=14)
    # From the first sum down to the second row, and out.
    path(ax, [(9.15, 4.29), (9.15, 3.3), (start, 3.3), (start, 1.75), (junction + 0.02, 1.75)], head=False)
    arrow(ax, (junction, 1.75), (1.475, 1.75))
    arrow(ax, (9.41, 1.75), (10.5, 1.75))
    label(ax, 10.35, 2.05, "out", size=18, colour=INK, weight="bold")
    return fig


def multi_head_attention():
    H = 11.3
    fig, ax = canvas(H, "Causal multi-head attention")
    h = 0.74
    col = 2.85   # the main column
    vx = 6.55    # where the values travel down
    x = Box(ax, 3.7, 9.95, 4.4, h, "x", "(batch, seq, d_in)")
    wq = Box(ax, 1.2, 8.75, 2.0, h, "W_query", "→ queries Q", kind="attn")
    wk = Box(ax, 3.6, 8.75, 2.0, h, "W_key", "→ keys K", kind="attn")
    wv = Box(ax, vx, 8.75, 2.0, h, "W_value", "→ values V", kind="attn")
    split = Box(ax, 3.85, 7.55, 6.9, h, "split into heads",
                "(batch, seq, d_out) → (batch, n_heads, seq, head_dim)", kind="attn")
    scores = Box(ax, col, 6.35, 4.7, h, r"scores = Q · Kᵀ", "(batch, n_heads, seq, seq)", kind="attn")
    mask = Box(ax, col, 5.25, 4.7, h, "causal mask", "future positions → −∞", kind="attn")
    scale = Box(ax, col, 4.15, 4.7, h, "÷ √head_dim", "keeps the scores' spread in check", kind="attn")
    soft = Box(ax, col, 3.05, 4.7, h, "softmax", "each row sums to 1", kind="attn")
    drop = Box(ax, col, 1.95, 4.7, h, "dropout", "only while training", kind="drop")
    mixv = Box(ax, 3.85, 0.85, 6.9, h, "weights × V, then merge heads",
               "(batch, n_heads, seq, head_dim) → (batch, seq, d_out)", kind="attn")
    for b in (wq, wk, wv):
        path(ax, [x.bottom, (x.cx, 9.35), (b.cx, 9.35), b.top])
        arrow(ax, b.bottom, (b.cx, split.cy + h / 2))
    label(ax, 0.95, 7.02, "Q", size=16, colour=INK, weight="bold")
    label(ax, 3.35, 7.02, "K", size=16, colour=INK, weight="bold")
    arrow(ax, (wq.cx, split.cy - h / 2), (wq.cx, scores.cy + h / 2))
    arrow(ax, (wk.cx, split.cy - h / 2), (wk.cx, scores.cy + h / 2))
    for a, b in ((scores, mask), (mask, scale), (scale, soft), (soft, drop)):
        arrow(ax, a.bottom, b.top)
    arrow(ax, drop.bottom, (col, mixv.cy + h / 2))
    arrow(ax, (vx, split.cy - h / 2), (vx, mixv.cy + h / 2))
    label(ax, vx + 0.12, 4.6, "V", size=16, colour=INK, weight="bold", ha="left")
    # out_proj to the right of the last box.
    proj = Box(ax, 9.2, 0.85, 2.7, h, "out_proj (Linear)", "→ (batch, seq, d_out)", kind="attn")
    arrow(ax, mixv.right, proj.left)

    # The attention weights of one head, after mask and softmax.
    words = ["The", " cat", " sat", " on", " the"]
    raw = np.array([
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.9, 1.6, 0.0, 0.0, 0.0],
        [0.4, 1.9, 0.7, 0.0, 0.0],
        [0.2, 0.6, 1.5, 0.9, 0.0],
        [1.1, 0.3, 0.5, 1.4, 0.8],
    ])
    future = np.triu(np.ones_like(raw, dtype=bool), k=1)
    weights = np.exp(np.where(future, -np.inf, raw))
    weights /= weights.sum(axis=1, keepdims=True)
    cell, gx, gy = 0.56, 7.85, 2.45  # grid's bottom-left corner
    label(ax, gx + 2.5 * cell, gy + 5 * cell + 1.35, "one head's weights", size=16, colour=INK, weight="bold")
    label(ax, gx + 2.5 * cell, gy + 5 * cell + 0.95, "rows: query  ·  columns: key", size=14)
    cmap = matplotlib.colormaps["Blues"]
    for i in range(5):
        for j in range(5):
            x0, y0 = gx + j * cell, gy + (4 - i) * cell
            if future[i, j]:
                ax.add_patch(Rectangle((x0, y0), cell, cell, facecolor=MASKED, edgecolor="white", lw=1.5))
            else:
                wgt = weights[i, j]
                ax.add_patch(Rectangle((x0, y0), cell, cell, facecolor=cmap(0.15 + 0.75 * wgt),
                                       edgecolor="white", lw=1.5))
                ax.text(x0 + cell / 2, y0 + cell / 2, f"{wgt:.2f}".lstrip("0"), ha="center", va="center",
                        fontsize=14, color="white" if wgt > 0.45 else INK)
        ax.text(gx - 0.1, gy + (4 - i) * cell + cell / 2, words[i].strip(), ha="right", va="center", fontsize=14)
        ax.text(gx + i * cell + cell / 2, gy + 5 * cell + 0.1, words[i].strip(), ha="left", va="bottom",
                fontsize=14, rotation=50, rotation_mode="anchor")
    label(ax, gx + 2.5 * cell, gy - 0.35, "grey = a future token:", size=14)
    label(ax, gx + 2.5 * cell, gy - 0.65, "score −∞, weight 0", size=14)
    arrow(ax, (soft.right[0], soft.cy), (gx - 0.75, gy + 1.5 * cell), colour=MUTED, lw=1.8,
          connectionstyle="arc3,rad=-0.15", style="-|>", head=16)
    return fig


def layer_norm():
    fig = plt.figure(figsize=(WIDTH, 6.4), dpi=DPI, facecolor="white")
    fig.text(0.5, 0.94, "Layer normalization of one token's vector", ha="center", va="center",
             fontsize=TITLE_PT, weight="bold")
    x = np.array([3.1, 0.4, 5.2, 2.0, -1.3, 4.6, 2.7, 1.5])
    mean, var = x.mean(), x.var()  # biased variance, as LayerNorm uses
    xhat = (x - mean) / np.sqrt(var + 1e-5)
    scale = np.array([1.5, 0.6, 1.0, 1.8, 1.0, 0.7, 1.2, 1.0])
    shift = np.array([0.5, 0.0, -0.4, 0.2, 0.0, 0.8, 0.0, -0.3])
    y = scale * xhat + shift
    panels = [
        (x, "input x\n(emb_dim = 8 here)", f"mean {mean:.2f}\nvariance {var:.2f}", "data"),
        (xhat, "normalized\n(x − mean) / √(var + ε)", f"mean {abs(xhat.mean()):.2f}\nvariance {xhat.var():.2f}",
         "norm"),
        (y, "scale · x̂ + shift\n(learned, per feature)", f"mean {y.mean():.2f}\nvariance {y.var():.2f}", "ff"),
    ]
    lefts = [0.07, 0.4, 0.73]
    for (values, title, stats, kind), left in zip(panels, lefts):
        ax = fig.add_axes([left, 0.3, 0.24, 0.45])
        ax.bar(np.arange(8), values, color=fill(kind), edgecolor=edge(kind), linewidth=2)
        ax.axhline(0, color=INK, linewidth=1.2)
        ax.axhline(values.mean(), color=COLOURS["block"], linewidth=2.5, linestyle=(0, (5, 3)))
        ax.set_ylim(-3, 6)
        ax.set_yticks([-2, 0, 2, 4, 6])
        ax.set_xticks([])
        ax.tick_params(labelsize=14)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_title(title, fontsize=16, weight="bold", pad=12)
        fig.text(left + 0.12, 0.16, stats, ha="center", va="center", fontsize=15)
    for x0 in (0.315, 0.645):
        fig.patches.append(FancyArrowPatch((x0, 0.52), (x0 + 0.075, 0.52), transform=fig.transFigure,
                                           arrowstyle="-|>", mutation_scale=26, color=INK, linewidth=3))
    fig.text(0.5, 0.05, "dashed line: the mean  ·  scale starts at 1 and shift at 0; training adjusts both",
             ha="center", va="center", fontsize=14, color=COLOURS["block"])
    return fig


def feed_forward():
    cfg = GPT_CONFIG_124M
    d, hidden = cfg["emb_dim"], 4 * cfg["emb_dim"]
    fig, ax = canvas(7.4, "Feed-forward network: expand, GELU, project back")
    unit = 5.0 / hidden  # inches per feature, so the widths are to scale
    mid_y, col_w = 3.55, 0.42
    xs = [1.0, 4.2, 6.6, 9.8]   # input, hidden before GELU, hidden after GELU, output
    heights = [d * unit, hidden * unit, hidden * unit, d * unit]
    kinds = ["data", "ff", "ff", "data"]
    for cx, hgt, kind in zip(xs, heights, kinds):
        ax.add_patch(Rectangle((cx - col_w / 2, mid_y - hgt / 2), col_w, hgt, facecolor=fill(kind),
                               edgecolor=edge(kind), linewidth=2.5))
    # The two linear layers, as trapezoids joining the columns.
    for (x0, h0), (x1, h1) in (((xs[0], heights[0]), (xs[1], heights[1])), ((xs[2], heights[2]), (xs[3], heights[3]))):
        ax.add_patch(Polygon([(x0 + col_w / 2, mid_y - h0 / 2), (x1 - col_w / 2, mid_y - h1 / 2),
                              (x1 - col_w / 2, mid_y + h1 / 2), (x0 + col_w / 2, mid_y + h0 / 2)],
                             closed=True, facecolor=mix(COLOURS["ff"], "white", 0.15), edgecolor=edge("ff"),
                             linewidth=1.5, linestyle=(0, (4, 3))))
    first = d * hidden + hidden
    second = hidden * d + d
    for cx, text, count in ((2.6, f"{d} → {n(hidden)}", first), (8.2, f"{n(hidden)} → {d}", second)):
        label(ax, cx, mid_y + 0.3, "Linear", size=17, colour=INK, weight="bold")
        label(ax, cx, mid_y - 0.12, text, size=15, colour=INK)
        label(ax, cx, mid_y - 0.5, f"{n(count)} params", size=14)
    label(ax, WIDTH / 2, 0.35, f"{n(first + second)} parameters in each block's feed-forward network", size=14)
    # GELU between the two hidden columns, with a small drawing of its curve.
    gelu = Box(ax, 5.4, mid_y, 1.55, 1.7, "", kind="ff")
    t = np.linspace(-3, 3, 61)
    g = 0.5 * t * (1 + np.tanh(np.sqrt(2 / np.pi) * (t + 0.044715 * t**3)))
    ax.plot(gelu.cx + t * 0.2, mid_y - 0.45 + g * 0.2, color=INK, linewidth=2.5, zorder=3)
    ax.plot([gelu.cx - 0.62, gelu.cx + 0.62], [mid_y - 0.45] * 2, color=MUTED, linewidth=1, zorder=3)
    label(ax, gelu.cx, mid_y + 0.52, "GELU", size=17, colour=INK, weight="bold")
    arrow(ax, (xs[1] + col_w / 2, mid_y), gelu.left)
    arrow(ax, gelu.right, (xs[2] - col_w / 2, mid_y))
    # Sizes under each column.
    label(ax, xs[0], mid_y - heights[0] / 2 - 0.3, f"{d}", size=16, colour=INK)
    label(ax, xs[3], mid_y - heights[3] / 2 - 0.3, f"{d}", size=16, colour=INK)
    label(ax, (xs[1] + xs[2]) / 2, mid_y - heights[1] / 2 - 0.3, f"{n(hidden)} = 4 × {d} hidden units",
          size=16, colour=INK)
    label(ax, xs[0], mid_y + heights[0] / 2 + 0.3, "in", size=16, colour=INK, weight="bold")
    label(ax, xs[3], mid_y + heights[3] / 2 + 0.3, "out", size=16, colour=INK, weight="bold")
    label(ax, WIDTH / 2, 6.55, "applied to every token position separately, with the same weights", size=15)
    return fig


def shortcut_connections():
    fig, ax = canvas(9.0, "Shortcut connections keep the gradient alive")
    layer_ys = [1.45, 2.8, 4.15, 5.5, 6.85]
    grad_widths = {False: [0.32, 0.2, 0.12, 0.07, 0.035], True: [0.32, 0.3, 0.28, 0.27, 0.26]}
    blue = COLOURS["block"]
    for panel, with_shortcut in ((0.0, False), (5.4, True)):
        cx = panel + 2.55
        label(ax, panel + 2.7, 8.15, "with shortcuts" if with_shortcut else "without shortcuts", size=18,
              colour=INK, weight="bold")
        label(ax, cx, 0.5, "input x", size=15, colour=INK)
        prev = (cx, 0.72)
        for i, y in enumerate(layer_ys):
            box = Box(ax, cx, y, 2.2, 0.5, "Linear + GELU", kind="ff", title_pt=15)
            arrow(ax, prev, box.bottom)
            prev = box.top
            # The last layer (3 -> 1 features in notebook 04) changes the shape, so it cannot be bypassed.
            if with_shortcut and i < len(layer_ys) - 1:
                py, split_y, bx = y + 0.6, y - 0.47, cx - 1.45
                plus(ax, cx, py, r=0.18)
                arrow(ax, box.top, (cx, py - 0.18))
                ax.add_patch(Circle((cx, split_y), 0.06, color=blue, zorder=3))
                path(ax, [(cx, split_y), (bx, split_y), (bx, py), (cx - 0.18, py)], colour=blue, lw=2.2)
                prev = (cx, py + 0.18)
        label(ax, cx, 7.6, "loss", size=15, colour=INK, weight="bold")
        arrow(ax, prev, (cx, 7.43))
        # Gradients flow back, from the loss towards the first layer.
        gx = panel + 4.35
        for y, width in zip(layer_ys[::-1], grad_widths[with_shortcut]):
            ax.add_patch(FancyArrowPatch(
                (gx, y + 0.5), (gx, y - 0.5),
                arrowstyle=f"simple,head_width={width * 130 + 8},head_length=10,tail_width={width * 72}",
                mutation_scale=1, color=COLOURS["head"], linewidth=0, zorder=2,
            ))
        label(ax, gx, 7.6, "gradient", size=15, colour=COLOURS["head"], weight="bold")
    label(ax, 2.7, 0.15, "the gradient shrinks layer after layer", size=15, colour=INK)
    label(ax, 8.1, 0.15, "each + passes the gradient straight back", size=15, colour=INK)
    ax.plot([5.4, 5.4], [0.4, 8.35], color=MUTED, linewidth=1.2)
    return fig


def generation_loop():
    fig, ax = canvas(6.6, "Generating text: one token per turn of the loop")
    w, h = 2.3, 1.25
    top, bottom = 4.6, 1.45
    ids = Box(ax, 1.4, top, w, h, "token ids", "(1, n)\n[15496, 11, 314, 716]")
    model = Box(ax, 4.1, top, w, h, "GPT model", "forward pass\nin eval mode", kind="block")
    logits = Box(ax, 6.8, top, w, h, "logits", "(1, n, 50,257)\nall positions", kind="head")
    last = Box(ax, 9.45, top, 2.2, h, "last position", "logits[:, -1, :]\n(1, 50,257)", kind="head")
    pick = Box(ax, 9.0, bottom, 3.1, h, "pick the next id", "argmax (greedy), or sample\nwith temperature / top-k",
               kind="head")
    append = Box(ax, 5.45, bottom, 2.8, h, "append", "torch.cat → (1, n + 1)")
    crop = Box(ax, 1.95, bottom, 3.3, h, "crop to context", "keep the last\ncontext_length ids")
    for a, b in ((ids, model), (model, logits), (logits, last)):
        arrow(ax, a.right, b.left)
    arrow(ax, (last.cx, last.cy - h / 2), (last.cx, pick.cy + h / 2))
    arrow(ax, pick.left, append.right)
    arrow(ax, append.left, crop.right)
    arrow(ax, (ids.cx, crop.cy + h / 2), ids.bottom)
    label(ax, 5.45, 3.03, "repeat max_new_tokens times", size=17, colour=COLOURS["block"], weight="bold")
    return fig


def parameter_map():
    cfg = GPT_CONFIG_124M
    parts = parameter_breakdown(meta_model(cfg))
    total = sum(parts.values())
    kinds = {
        "token embedding": "embed", "position embedding": "embed", "attention (all blocks)": "attn",
        "feed-forward (all blocks)": "ff", "layer norms (all blocks)": "norm", "final norm": "norm",
        "output head": "head",
    }
    fig = plt.figure(figsize=(WIDTH, 7.0), dpi=DPI, facecolor="white")
    fig.text(0.5, 0.935, f"Where GPT-2 124M's {n(total)} parameters live", ha="center", va="center",
             fontsize=TITLE_PT, weight="bold")
    tied = total - parts["output head"]
    fig.text(0.5, 0.865, f"({n(tied)} if the output head reuses the token embedding, as OpenAI's GPT-2 does)",
             ha="center", va="center", fontsize=14, color=MUTED)
    ax = fig.add_axes([0.27, 0.1, 0.5, 0.7])
    names = list(parts)[::-1]
    values = [parts[k] for k in names]
    ax.barh(range(len(names)), values, color=[fill(kinds[k]) for k in names],
            edgecolor=[edge(kinds[k]) for k in names], linewidth=2, height=0.7)
    ax.set_yticks(range(len(names)), names, fontsize=15)
    ax.set_xlim(0, max(values) * 1.02)
    ax.set_xticks([0, 20e6, 40e6, 60e6], ["0", "20 M", "40 M", "60 M"], fontsize=14)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for i, v in enumerate(values):
        share = 100 * v / total
        ax.text(v + max(values) * 0.02, i, f"{n(v)}  ({share:.1f} %)" if share >= 0.05 else f"{n(v)}  (< 0.1 %)",
                va="center", fontsize=14)
    ax.set_xlabel("parameters", fontsize=14)
    return fig


def kv_cache():
    fig, ax = canvas(7.4, "KV cache: prefill once, then one query row per token")
    words = ["The", "cat", "sat", "on"]
    cell = 0.62
    masked = "#e6e6e6"  # masked (future) cells: light grey, as in notebook 05's attention plots

    def grid_cell(x, y, kind, hatch=None, colour=None):
        ax.add_patch(Rectangle((x, y), cell, cell, linewidth=2, hatch=hatch,
                               facecolor=colour or fill(kind), edgecolor=edge(kind) if kind else "#b0b0b0"))

    # Left panel: prefill. The prompt's queries (rows) against its keys (columns), causal.
    gx, top = 1.55, 5.2
    label(ax, 2.75, 6.35, "1 · prefill: the prompt, once", size=18, colour=INK, weight="bold")
    label(ax, gx + 2 * cell, top + 0.62, "keys of the prompt", size=14)
    for j, word in enumerate(words):
        label(ax, gx + j * cell + cell / 2, top + 0.27, word, size=14, colour=INK)
    for i, word in enumerate(words):
        y = top - (i + 1) * cell
        label(ax, gx - 0.12, y + cell / 2, word, size=14, colour=INK, ha="right")
        for j in range(4):
            if j <= i:
                grid_cell(gx + j * cell, y, "attn")
            else:
                grid_cell(gx + j * cell, y, None, colour=masked)
    label(ax, gx - 0.95, top - 2 * cell, "queries", size=14, rotation=90)
    label(ax, 2.75, 1.95, "4 query rows; the 4 keys and values", size=15, colour=INK)
    label(ax, 2.75, 1.55, "are computed and stored in the cache", size=15, colour=INK)

    # Right panel: one decoding step. The new token's query row against the cached keys plus its own.
    gx = 6.55
    label(ax, 8.1, 6.35, "2 · then, for each new token", size=18, colour=INK, weight="bold")
    label(ax, gx + 2.5 * cell, top + 0.62, "keys: 4 from the cache + 1 new", size=14)
    for j, word in enumerate(words + ["the"]):
        label(ax, gx + j * cell + cell / 2, top + 0.27, word, size=14, colour=INK)
    y = top - 2.5 * cell
    label(ax, gx - 0.12, y + cell / 2, "the", size=14, colour=INK, ha="right")
    label(ax, gx - 0.95, y + cell / 2, "query", size=14, rotation=90)
    for j in range(4):
        grid_cell(gx + j * cell, y, "embed", hatch="//")
    grid_cell(gx + 4 * cell, y, "attn")
    label(ax, 8.1, 1.95, "1 new query row, key and value; the query", size=15, colour=INK)
    label(ax, 8.1, 1.55, "still reads all 5 keys: the step grows", size=15, colour=INK)
    ax.plot([5.4, 5.4], [1.3, 6.6], color=MUTED, linewidth=1.2)

    # Legend.
    for x0, kind, text, hatch, colour in ((0.45, "attn", "computed in this step", None, None),
                                          (4.05, "embed", "read from the cache", "//", None),
                                          (7.45, None, "masked (future)", None, masked)):
        ax.add_patch(Rectangle((x0, 0.35), 0.45, 0.4, facecolor=colour or fill(kind),
                               edgecolor=edge(kind) if kind else "#b0b0b0", linewidth=2, hatch=hatch))
        label(ax, x0 + 0.6, 0.55, text, size=15, colour=INK, ha="left")
    return fig


def pre_post_ln():
    fig, ax = canvas(8.3, "Where the LayerNorm goes: post-LN and pre-LN")
    w, h = 2.3, 0.58
    blue = COLOURS["block"]

    # Left: post-LN (2017). The main path runs through the norms; the shortcuts skip only the branches.
    cx = 2.9
    label(ax, cx - 0.3, 7.25, "post-LN (original transformer, 2017)", size=16, colour=INK, weight="bold")
    label(ax, cx, 0.55, "x", size=17, colour=INK)
    att = Box(ax, cx, 1.75, w, h, "attention", kind="attn", title_pt=15)
    plus(ax, cx, 2.65)
    ln1 = Box(ax, cx, 3.45, w, h, "LayerNorm", kind="norm", title_pt=15)
    ff = Box(ax, cx, 4.55, w, h, "feed-forward", kind="ff", title_pt=15)
    plus(ax, cx, 5.45)
    ln2 = Box(ax, cx, 6.25, w, h, "LayerNorm", kind="norm", title_pt=15)
    arrow(ax, (cx, 0.75), att.bottom)
    arrow(ax, att.top, (cx, 2.39))
    arrow(ax, (cx, 2.91), ln1.bottom)
    arrow(ax, ln1.top, ff.bottom)
    arrow(ax, ff.top, (cx, 5.19))
    arrow(ax, (cx, 5.71), ln2.bottom)
    arrow(ax, ln2.top, (cx, 6.85))
    path(ax, [(cx, 1.1), (cx - 1.75, 1.1), (cx - 1.75, 2.65), (cx - 0.26, 2.65)], colour=blue)
    path(ax, [(cx, 3.95), (cx - 1.75, 3.95), (cx - 1.75, 5.45), (cx - 0.26, 5.45)], colour=blue)
    label(ax, cx + 0.25, 7.0, "out", size=15, colour=INK, ha="left")
    label(ax, 2.7, 0.15, "shortcuts also pass through the norms", size=13)

    # Right: pre-LN (GPT-2). The residual stream is a plain running sum; each branch normalizes its input.
    sx, bx = 6.55, 8.45
    label(ax, 8.0, 7.25, "pre-LN (GPT-2)", size=16, colour=INK, weight="bold")
    label(ax, sx, 0.55, "x", size=17, colour=INK)
    ln1 = Box(ax, bx, 1.7, w, h, "LayerNorm", kind="norm", title_pt=15)
    att = Box(ax, bx, 2.6, w, h, "attention", kind="attn", title_pt=15)
    plus(ax, sx, 3.35)
    ln2 = Box(ax, bx, 4.2, w, h, "LayerNorm", kind="norm", title_pt=15)
    ff = Box(ax, bx, 5.1, w, h, "feed-forward", kind="ff", title_pt=15)
    plus(ax, sx, 5.85)
    arrow(ax, (sx, 0.75), (sx, 3.09), colour=blue)
    arrow(ax, (sx, 3.61), (sx, 5.59), colour=blue)
    arrow(ax, (sx, 6.11), (sx, 6.85), colour=blue)
    path(ax, [(sx, 1.1), (bx, 1.1), ln1.bottom])
    arrow(ax, ln1.top, att.bottom)
    path(ax, [att.top, (bx, 3.35), (sx + 0.26, 3.35)])
    path(ax, [(sx, 3.75), (bx, 3.75), ln2.bottom])
    arrow(ax, ln2.top, ff.bottom)
    path(ax, [ff.top, (bx, 5.85), (sx + 0.26, 5.85)])
    label(ax, sx - 0.2, 7.0, "out", size=15, colour=INK, ha="right")
    label(ax, sx - 0.25, 4.6, "residual stream", size=13, colour=blue, rotation=90)
    label(ax, 8.1, 0.15, "a plain running sum; a final LayerNorm at the end", size=13)
    ax.plot([5.4, 5.4], [0.4, 7.0], color=MUTED, linewidth=1.2)
    return fig


DIAGRAMS = {
    "gpt_overview.png": gpt_overview,
    "transformer_block.png": transformer_block,
    "multi_head_attention.png": multi_head_attention,
    "layer_norm.png": layer_norm,
    "feed_forward.png": feed_forward,
    "shortcut_connections.png": shortcut_connections,
    "generation_loop.png": generation_loop,
    "parameter_map.png": parameter_map,
    "kv_cache.png": kv_cache,
    "pre_post_ln.png": pre_post_ln,
}


def save(fig, path):
    fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Software": None, "Source": SOURCE})
    plt.close(fig)


def generate(out_dir, names=None):
    """Draw the diagrams (all, or those in `names`) into `out_dir`; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names or DIAGRAMS:
        save(DIAGRAMS[name](), out_dir / name)
        paths.append(out_dir / name)
    return paths


def same_pixels(a, b):
    """True when two PNG files decode to identical pixels (the PNG encoder may still differ)."""
    from PIL import Image

    with Image.open(a) as ia, Image.open(b) as ib:
        return ia.size == ib.size and ia.mode == ib.mode and ia.tobytes() == ib.tobytes()


def compare(fresh_dir, target=IMGS):
    """Names of the diagrams in `fresh_dir` whose pixels differ from (or are missing in) `target`."""
    differ = []
    for name in DIAGRAMS:
        fresh, committed = Path(fresh_dir) / name, Path(target) / name
        if not committed.is_file():
            differ.append(f"{name} (missing)")
        elif committed.read_bytes() != fresh.read_bytes():
            if same_pixels(committed, fresh):
                print(f"note: {name}: same pixels, different PNG encoding (another zlib/Pillow)")
            else:
                differ.append(name)
    return differ


def check(target=IMGS):
    """Redraw every diagram into a temporary folder and compare it with `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp)
        return compare(tmp, target)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare fresh drawings with imgs/ instead of writing")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these diagrams, e.g. kv_cache.png (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(DIAGRAMS))
    if unknown:
        parser.error(f"unknown diagram(s) {', '.join(unknown)}; choose from {', '.join(DIAGRAMS)}")
    if args.check:
        differ = check()
        if differ:
            print("diagrams out of date (run python tools/make_diagrams.py):")
            for name in differ:
                print(f"  {name}")
            return 1
        print(f"all {len(DIAGRAMS)} diagrams are up to date")
        return 0
    for p in generate(IMGS, args.names):
        print(p.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
