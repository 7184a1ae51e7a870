"""One colour per kind of component, everywhere in the series: the diagrams of imgs/
(tools/make_diagrams.py), the widgets and the notebooks' figures.

The Okabe-Ito colours are safe for the common kinds of colour blindness. Boxes and bars are filled
with a light tint of their colour (`fill`) and outlined with a dark shade of it (`edge`), as in the
diagrams. Masked (future, blocked) attention cells are MASKED grey in every heatmap and diagram.
"""

COLOURS = {
    "data": "#999999",     # grey: text, tokens, ids
    "embed": "#56B4E9",    # sky blue: embeddings
    "norm": "#F0E442",     # yellow: layer norms
    "attn": "#E69F00",     # orange: attention
    "ff": "#009E73",       # bluish green: feed-forward
    "drop": "#CC79A7",     # reddish purple: dropout
    "head": "#D55E00",     # vermillion: output head, logits, gradients
    "block": "#0072B2",    # blue: transformer blocks, shortcuts
}

# The kind of each entry of params.parameter_breakdown() (and of notebook 08's groups).
COMPONENT_KINDS = {
    "token embedding": "embed", "position embedding": "embed", "attention (all blocks)": "attn",
    "feed-forward (all blocks)": "ff", "layer norms (all blocks)": "norm", "final norm": "norm",
    "output head": "head",
    "attention": "attn", "feed-forward": "ff", "layer norms": "norm",
}

MASKED = "#e6e6e6"  # a future position a causal mask blocks: its weight is exactly 0


def _rgb(hex_colour):
    hex_colour = hex_colour.lstrip("#")
    return tuple(int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4))


def mix(hex_colour, other, amount):
    """`amount` of `hex_colour` mixed into `other` (0..1, hex strings or "white"/"black"), as an RGB tuple."""
    other = {"white": "#ffffff", "black": "#000000"}.get(other, other)
    return tuple(amount * a + (1 - amount) * b for a, b in zip(_rgb(hex_colour), _rgb(other)))


def fill(kind):
    """The light tint a box or bar of this kind is filled with."""
    return mix(COLOURS[kind], "white", 0.38)


def edge(kind):
    """The dark shade a box or bar of this kind is outlined with."""
    return mix(COLOURS[kind], "black", 0.72)
