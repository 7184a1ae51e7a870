"""Interactive widgets for the notebooks (ipywidgets + matplotlib).

    from gpt_from_scratch.widgets import attention_explorer
    attention_explorer(model)          # the last line of a cell displays it

Every function returns a `Playground`: an ipywidgets VBox whose `controls` dict holds its sliders and
text boxes and whose `output` (an ipywidgets Output) shows the result. Changing a control redraws the
output (a "redrawing" cue shows while it runs); a value the model cannot use (an empty text, a config
whose emb_dim does not divide by n_heads) shows the package's error message instead of a traceback.

Figures are drawn for the notebook column (at most FIGURE_WIDTH inches at 100 dpi, about 940 px, so
JupyterLab never shrinks them) with text at least as large as the prose (STYLE); long or odd token
labels are escaped and shortened (`token_label`). Colours: `palette.COMPONENT_COLOURS`, shared with
the diagrams of imgs/ and the notebooks' figures.

Not imported by `import gpt_from_scratch`: ipywidgets and matplotlib would add about half a second
to every notebook's first import, and only a few notebooks use widgets.
"""

import base64
import html
import io
import math
import warnings

import ipywidgets as widgets
import matplotlib
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .checks import MAX_CONTEXT_LENGTH, check_gpt_model, check_token_ids
from .config import GPT2_CONFIGS, GPT_CONFIG_124M
from .display import rounded
from .feedforward import GELU
from .layernorm import LayerNorm
from .palette import COMPONENT_KINDS, MASKED, edge, fill
from .params import count_parameters, meta_model, model_size_mb, parameter_breakdown
from .tokenizer import get_tokenizer, text_to_token_ids

# Okabe-Ito colours (safe for colour-blind viewers), as in the diagrams of imgs/.
BLUE, SKY, ORANGE, GREEN, YELLOW, VERMILLION, GREY = (
    "#0072B2", "#56B4E9", "#E69F00", "#009E73", "#F0E442", "#D55E00", "#999999")

FIGURE_WIDTH = 9.4  # inches at 100 dpi: fits JupyterLab's notebook column (about 960 px) unscaled
# matplotlib's 10 pt at 100 dpi is 14 px, the size of the notebook's prose: nothing smaller.
STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10.5,
         "ytick.labelsize": 10.5, "legend.fontsize": 10.5, "figure.titlesize": 12}


class HTML(str):
    """An item a playground shows as HTML (it wraps like prose); `plain` is its text without markup."""

    def __new__(cls, markup, plain):
        item = super().__new__(cls, markup)
        item.plain = plain
        return item


def caption(text):
    """A line of prose under the controls: wraps between words, never inside one."""
    return HTML(f'<div style="margin:2px 0 4px">{html.escape(text)}</div>', text)


def token_label(text, width=14):
    """A token as a short, safe label: control characters escaped, spaces shown as ␣, at most `width` chars."""
    label = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text).replace(" ", "␣")
    return label if len(label) <= width else label[:width - 1] + "…"


# ----------------------------------------------------------------------------- the shared machinery


def _as_output(item):
    """An Output-widget entry for `item`: a matplotlib Figure becomes a PNG, HTML stays HTML, anything else text."""
    if isinstance(item, HTML):
        return {"output_type": "display_data", "metadata": {},
                "data": {"text/html": str(item), "text/plain": item.plain}}
    if isinstance(item, Figure):
        png = base64.b64encode(_png(item)).decode("ascii")
        return {"output_type": "display_data", "metadata": {},
                "data": {"image/png": png, "text/plain": "<Figure>"}}
    return {"output_type": "stream", "name": "stdout", "text": f"{item}\n"}


def _png(figure):
    """The figure as PNG bytes at 100 dpi, drawn on an Agg canvas that stays with the figure and encoded by
    Pillow: a redraw then costs about 40 % less than `savefig`, which sets up a new canvas on every call.
    (Every widget figure uses the constrained layout, or none, so no bbox_inches="tight" is needed.)"""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    figure.set_dpi(100)
    changing = getattr(figure, "changing_artists", [])  # see plot_attention
    with warnings.catch_warnings():  # a token in a script the font lacks is drawn as a box, silently
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        if changing and hasattr(figure, "unchanging_pixels"):
            canvas.restore_region(figure.unchanging_pixels)  # the labels, ticks and colour bar, drawn once
        else:
            canvas.draw()  # leaves out the changing (animated) artists
            if changing:
                figure.unchanging_pixels = canvas.copy_from_bbox(figure.bbox)
        for artist in changing:
            figure.draw_artist(artist)
    # A widget that keeps its figure and updates it redraws with this layout: laying it out again would
    # cost as much as the drawing, and the axes stay where the learner saw them.
    figure.set_layout_engine("none")
    image = PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=1)  # quick to encode; the image goes to a local browser
    return buffer.getvalue()


class Playground(widgets.VBox):
    """Controls above an Output; `draw(**values)` returns the list of texts and figures to show."""

    def __init__(self, title, controls, draw):
        self.title = title
        self.controls = dict(controls)
        self.output = widgets.Output()
        self._draw = draw
        self._paused = False
        self._shown = None  # the values last drawn: a change that leaves them equal redraws nothing
        self.status = widgets.HTML("", layout=widgets.Layout(margin="0 0 0 12px"))  # the busy cue
        # A text box gets a row of its own; the other controls share rows, wrapping as the column allows.
        texts = [c for c in self.controls.values() if isinstance(c, widgets.Text)]
        others = [c for c in self.controls.values() if not isinstance(c, widgets.Text)]
        rows = [widgets.HBox([c], layout=widgets.Layout(width="100%")) for c in texts]
        rows += [widgets.HBox(others, layout=widgets.Layout(flex_flow="row wrap"))] if others else []
        header = widgets.HBox([widgets.HTML(f"<b>{title}</b>"), self.status])
        super().__init__([header, *rows, self.output])
        for control in self.controls.values():
            control.observe(self.refresh, names="value")
        self.refresh()

    @property
    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values):
        """Change several controls at once and redraw once."""
        self._paused = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._paused = False
        self.refresh()

    def refresh(self, change=None):
        if self._paused or self.values == self._shown:
            return
        self._shown = self.values
        self.status.value = '<span style="color:#D55E00">⏳ redrawing…</span>'
        try:
            # parse_math off: a '$' in a token or a text is a dollar sign, not the start of a formula
            with matplotlib.rc_context({**STYLE, "text.parse_math": False}):
                try:  # drawing and rendering both inside: a figure can fail only when it is saved
                    outputs = tuple(_as_output(item) for item in self._draw(**self.values))
                except (ValueError, TypeError) as err:  # bad input: say what is wrong, no traceback
                    outputs = (_as_output(caption(f"Cannot show this: {err}")),)
            self.output.outputs = outputs  # replaces everything shown before
        finally:
            self.status.value = ""

    def __repr__(self):  # the text a notebook stores for the widget: stable, and true wherever it is read
        # ipywidgets cuts this text at 110 characters: keep it shorter.
        return f"{self.title} (a widget: it appears when this cell runs in a live kernel)"


def _slider(kind, description, **kwargs):
    style = {"description_width": "initial"}
    kwargs.setdefault("layout", widgets.Layout(width="280px"))  # three to a row in the notebook column
    return kind(description=description, continuous_update=False, style=style, **kwargs)


def _model_device(model):
    return next(model.parameters()).device


# ----------------------------------------------------------------------------- attention explorer


@torch.no_grad()
def attention_maps(model, token_ids):
    """Causal attention weights of every block for one sequence: a list of (n_heads, seq, seq) CPU tensors.

    Block i's weights come from `block.att.attention_weights(block.norm1(x))`, where x is the output of
    the embeddings and blocks 0..i-1, all in eval mode (no dropout). The model's mode is restored after.
    """
    check_gpt_model(model)
    check_token_ids(token_ids, model.tok_emb.num_embeddings, model.pos_emb.num_embeddings, name="token_ids")
    if token_ids.shape[0] != 1:
        raise ValueError(f"token_ids must hold one sequence, got a batch of {token_ids.shape[0]}")
    was_training = model.training
    model.eval()
    try:
        device = _model_device(model)
        ids = token_ids.to(device)
        x = model.drop_emb(model.tok_emb(ids) + model.pos_emb(torch.arange(ids.shape[1], device=device)))
        maps = []
        for block in model.trf_blocks:
            maps.append(block.att.attention_weights(block.norm1(x))[0].cpu())
            x = block(x)
    finally:
        model.train(was_training)
    return maps


def plot_attention(weights, tokens, title, labelled=()):
    """A heatmap of one head's (seq, seq) weights; the blocked future positions are plain MASKED grey.

    A long text cannot have every token labelled: the positions in `labelled` always are (in bold), and
    as many of the others as fit between them.
    """
    seq = len(tokens)
    size = min(7.6, 3.2 + 0.4 * seq)  # with the colour bar and labels: at most FIGURE_WIDTH wide
    fig = Figure(figsize=(size + 1.6, size), layout="constrained")
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad=MASKED)
    image = ax.imshow(np.zeros((seq, seq)), cmap=cmap, vmin=0, vmax=1)
    labels = [token_label(t) for t in tokens]  # spaces shown as ␣, \n escaped, long tokens shortened
    # A label needs about 16 px (10.5 pt text); the axes get about 80 px per inch of `size`. A long text
    # gets every 2nd (3rd, ...) token labelled rather than labels printed over each other, and the
    # positions in `labelled` always.
    step = math.ceil(seq * 16 / (80 * size))
    ticks = tick_positions(seq, step, labelled)
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90)
    ax.set_yticks(ticks, [labels[i] for i in ticks])
    kept = {i for i in labelled if 0 <= i < seq}
    for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        for i, label in zip(ticks, tick_labels):
            if i in kept:
                label.set_fontweight("bold")
    every = "" if step == 1 else f" (every {step}{'nd' if step == 2 else 'rd' if step == 3 else 'th'} labelled)"
    if kept and step > 1:
        every = " (bold: always labelled; others as space allows)"
    ax.set_xlabel(f"key: the token looked at{every}")
    ax.set_ylabel(f"query: the token looking{every}")
    if seq <= 10:  # a number in every visible cell; filled in by show_attention
        for i in range(seq):
            for j in range(i + 1):
                ax.text(j, i, "", ha="center", va="center", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="attention weight")
    # Only these change when another head is shown: _png draws the rest once and then only these, on top
    # (the frame last, since the image would cover it). Text rendering is most of a full redraw.
    fig.changing_artists = [image, *ax.texts, *ax.spines.values(), ax.title]
    for artist in fig.changing_artists:
        artist.set_animated(True)
    show_attention(fig, weights, title)
    return fig


def tick_positions(seq, step, labelled=()):
    """The positions to label: those in `labelled`, then, from the left, each one at least `step` away from
    every label chosen so far (closer labels would be printed over each other)."""
    chosen = {i for i in labelled if 0 <= i < seq}
    for i in range(seq):
        if all(abs(i - k) >= step for k in chosen):
            chosen.add(i)
    return sorted(chosen)


def show_attention(fig, weights, title):
    """Put another head's weights (same tokens) into a figure from plot_attention: a redraw that keeps the
    axes, labels and colour bar is several times faster than drawing a new figure."""
    weights = weights.detach().to("cpu", torch.float64).numpy()
    future = np.triu(np.ones(weights.shape, dtype=bool), k=1)
    ax = fig.axes[0]
    ax.images[0].set_data(np.ma.masked_where(future, weights))
    ax.set_title(title)
    cells = [(i, j) for i in range(len(weights)) for j in range(i + 1)]
    for (i, j), label in zip(cells, ax.texts):
        label.set_text(f"{weights[i, j]:.2f}")
        label.set_color("white" if weights[i, j] > 0.5 else "black")
    return fig


def attention_explorer(model, tokenizer=None, text="The robot picked up the ball because it was light",
                       labelled=()):
    """Type a text, pick a block (layer) and a head, and see which earlier tokens each token attends to.

    `labelled`: token positions whose labels are always shown (in bold) when a long text leaves no room for
    every label, for example the tokens a notebook asks you to follow.
    """
    check_gpt_model(model)
    labelled = tuple(labelled)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in labelled):
        raise TypeError(f"labelled must hold token positions (ints), got {labelled!r}; "
                        "for example labelled=[3, 10]")
    tokenizer = tokenizer or get_tokenizer()
    shown = {}  # the current text's tokens, attention maps and figure

    def draw(text, layer, head):
        if shown.get("text") != text:
            ids = text_to_token_ids(text, tokenizer)
            shown.clear()
            shown.update(text=text, tokens=[tokenizer.decode([i]) for i in ids[0].tolist()],
                         maps=attention_maps(model, ids), figure=None)
        tokens, weights, title = shown["tokens"], shown["maps"][layer][head], f"layer {layer}, head {head}"
        if shown["figure"] is None:
            shown["figure"] = plot_attention(weights, tokens, title, labelled)
        else:  # same text: new numbers in the same figure
            show_attention(shown["figure"], weights, title)
        summary = (f"{len(tokens)} tokens · layer {layer}, head {head}: row i shows how token i spreads its "
                   "attention over tokens 0..i (each row sums to 1; grey = future, blocked)")
        return [caption(summary), shown["figure"]]

    n_layers = len(model.trf_blocks)
    n_heads = model.trf_blocks[0].att.num_heads
    return Playground("Attention explorer", {
        "text": widgets.Text(value=text, description="text", continuous_update=False,
                             layout=widgets.Layout(width="90%")),
        "layer": _slider(widgets.IntSlider, "layer (block)", min=0, max=n_layers - 1, value=0),
        "head": _slider(widgets.IntSlider, "head", min=0, max=n_heads - 1, value=0),
    }, draw)


# ----------------------------------------------------------------------------- generation playground


def generation_playground(model, tokenizer=None, prompt="Hello, I am", seed=123):
    """Generate from a prompt with a chosen temperature, top-k and top-p; see each step's likeliest tokens.

    Works with any tokenizer that has `encode(text, allowed_special=...)` and `decode(ids)` (the GPT-2 one
    by default). Redrawing costs one `generate` call (KV cache) and one forward pass over the result, and
    the steps are shown as an HTML table, so it stays quick for a small model.
    """
    from .sampling import generate, next_token_probs  # notebook 11's sampler

    tokenizer = tokenizer or get_tokenizer()

    def draw(prompt, max_new_tokens, temperature, top_k, top_p, seed):
        ids = text_to_token_ids(prompt, tokenizer)
        device = _model_device(model)
        top_k = top_k or None
        top_p = top_p if top_p < 1 else None
        # A CPU generator: `generate` draws on it even for a GPU model, so a seed gives the same tokens anywhere.
        generator = torch.Generator().manual_seed(seed) if temperature > 0 else None
        was_training = model.training
        model.eval()
        try:
            out = generate(model, ids.to(device), max_new_tokens, temperature=temperature, top_k=top_k,
                           top_p=top_p, generator=generator).cpu()
            prompt_ids, new = ids[0].tolist(), out[0, ids.shape[1]:].tolist()
            steps = step_logits(model, out, ids.shape[1]) if new else None  # no new token: no step to show
        finally:
            model.train(was_training)
        if temperature > 0:
            mode = (f"sampled with temperature {temperature:g}, top-k {top_k or 'off'}, "
                    f"top-p {top_p or 'off'}, seed {seed}")
        else:
            mode = "greedy: the most likely token each time"
        items = [_generated_text(tokenizer, prompt_ids, new, mode)]
        if not new:
            return items
        if temperature > 0:
            probs = next_token_probs(steps, temperature, top_k, top_p)
        else:
            probs = torch.softmax(steps, dim=-1)
        return items + [_steps_table(probs, new, tokenizer, mode)]

    return Playground("Generation playground", {
        "prompt": widgets.Text(value=prompt, description="prompt", continuous_update=False,
                               layout=widgets.Layout(width="90%")),
        "max_new_tokens": _slider(widgets.IntSlider, "new tokens", min=0, max=20, value=6),
        "temperature": _slider(widgets.FloatSlider, "temperature", min=0.0, max=2.0, step=0.1, value=0.0),
        "top_k": _slider(widgets.IntSlider, "top-k (0 = off)", min=0, max=50, value=0),
        "top_p": _slider(widgets.FloatSlider, "top-p (1 = off)", min=0.05, max=1.0, step=0.05, value=1.0),
        "seed": widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                       layout=widgets.Layout(width="200px")),
    }, draw)


@torch.no_grad()
def step_logits(model, out, n_prompt):
    """The logits (n_new, vocab) each generation step saw, as float64 on the CPU (the model is in eval mode).

    While prompt and new tokens fit the context this is one forward pass over the whole sequence: row s is
    the last position of the window the model read at step s. Past the context, each step's window slides,
    so each step is recomputed from its own window.
    """
    context = model.pos_emb.num_embeddings
    device = _model_device(model)
    if out.shape[1] - 1 <= context:
        return model(out[:, :-1].to(device))[0, n_prompt - 1:].cpu().double()
    return torch.stack([model(out[:, :n_prompt + s][:, -context:].to(device))[0, -1].cpu().double()
                        for s in range(out.shape[1] - n_prompt)])


_TOKEN_STYLE = "white-space:pre;border-radius:3px;padding:0 1px;"


def _generated_text(tokenizer, prompt_ids, new, mode):
    """The ids and the text, both wrapping only between tokens; the new tokens highlighted."""
    def ids_html(ids):  # "1, 2, 3" breaking only after a comma
        return " ".join(f'<span style="white-space:nowrap">{i}{"," if k < len(ids) - 1 else ""}</span>'
                        for k, i in enumerate(ids))

    pieces = [tokenizer.decode([i]) for i in prompt_ids + new]
    text = tokenizer.decode(prompt_ids + new)
    if "".join(pieces) == text:  # each token decodes on its own: show the token boundaries
        # A token never breaks, unless it is too long for a line on its own.
        spans = [f'<span style="{_TOKEN_STYLE}{"background:#fbd9c4;" if k >= len(prompt_ids) else ""}'
                 f'{"white-space:pre-wrap;word-break:break-all;" if len(piece) > 40 else ""}">'
                 f"{html.escape(piece)}</span>" for k, piece in enumerate(pieces)]
        text_html = "<wbr>".join(spans)
    else:  # a character split over several tokens: show the decoded text as a whole
        text_html = f'<span style="white-space:pre-wrap">{html.escape(text)}</span>'
    plain = (f"prompt ids: {prompt_ids}\nnew ids:    {new}   ({mode})\ntext: {text}")
    markup = (
        '<div style="line-height:1.6;margin:2px 0 6px">'
        f"<div><b>prompt ids:</b> [{ids_html(prompt_ids)}]</div>"
        f'<div><b>new ids:</b> [{ids_html(new)}] <span style="color:#555">({html.escape(mode)})</span></div>'
        f"<div><b>text:</b> {text_html}</div></div>"
    )
    return HTML(markup, plain)


def _steps_table(step_probs, chosen, tokenizer, mode, k=5):
    """One row per step: the k likeliest next tokens with a bar each; the token taken is highlighted
    (and added at the end of its row if it is not among the k)."""
    top = torch.topk(step_probs, k, dim=-1)
    rows, plain = [], []
    bar_px = 60  # the likeliest token of a step gets the full width; the others relative to it
    for s, (pick, values, ids) in enumerate(zip(chosen, top.values.tolist(), top.indices.tolist())):
        cells = list(zip(ids, values))
        if pick not in ids:
            cells.append((pick, step_probs[s, pick].item()))
        tds = []
        for token_id, p in cells:
            taken = token_id == pick
            label = html.escape(token_label(tokenizer.decode([token_id]), 12))
            colour = VERMILLION if taken else GREY
            highlight = "font-weight:bold;background:#fbd9c4;" if taken else ""
            tds.append(
                f'<td style="padding:1px 6px;vertical-align:top;text-align:left;{highlight}">'
                f'<div style="{_TOKEN_STYLE}">{label}</div>'
                f'<div style="display:flex;align-items:center;gap:4px">'
                f'<div style="height:8px;width:{max(1, round(bar_px * p / values[0]))}px;background:{colour}"></div>'
                f'<span style="font-size:85%;color:#444;white-space:nowrap">{100 * p:.3g} %</span></div></td>')
        rows.append(f'<tr><td style="padding:1px 10px 1px 0;color:#555;white-space:nowrap">step {s + 1}</td>'
                    + "".join(tds) + "</tr>")
        plain.append(f"step {s + 1}: " + ", ".join(f"{tokenizer.decode([i])!r} {100 * p:.3g} %" for i, p in cells))
    title = (f"The {k} likeliest next tokens at each step ({html.escape(mode)}); bars relative to the "
             f'likeliest; <span style="background:#fbd9c4;font-weight:bold">highlighted: the token taken</span>')
    markup = (f'<div style="margin-top:4px">{title}</div>'
              f'<table style="border-collapse:collapse;margin-top:4px;font-size:var(--jp-content-font-size1,14px);'
              f'text-align:left">{"".join(rows)}</table>')
    return HTML(markup, "\n".join(plain))


# ----------------------------------------------------------------------------- model size explorer

_SIZE_KEYS = ("emb_dim", "n_layers", "n_heads", "context_length", "vocab_size")
# Upper bounds for the fields: well above GPT-3 (12,288 wide, 96 layers and heads), low enough that
# building the shapes-only model takes a second at most (a million layers would take minutes).
_SIZE_MAX = {"emb_dim": 65_536, "n_layers": 256, "n_heads": 256, "context_length": MAX_CONTEXT_LENGTH,
             "vocab_size": 1_000_000}


def model_size_explorer(preset="gpt2-small (124M)"):
    """Pick a GPT-2 size or edit the config; see where the parameters are and how much memory they need."""
    shown = {}  # the figure

    def draw(preset, **sizes):
        cfg = {**GPT_CONFIG_124M, **sizes}
        model = meta_model(cfg)  # validates cfg: a bad combination raises a ValueError with the reason
        parts = parameter_breakdown(model)
        total = count_parameters(model)
        width = max(map(len, parts))
        lines = [f"{name:<{width}}  {count:>13,}  {100 * count / total:5.1f} %" for name, count in parts.items()]
        lines += [
            f"{'total':<{width}}  {total:>13,}",
            f"memory for the weights: {model_size_mb(model, torch.float32):,.1f} MB in float32, "
            f"{model_size_mb(model, torch.bfloat16):,.1f} MB in bfloat16 (1 MB = 1024**2 bytes)",
        ]
        names = list(parts)[::-1]
        if "figure" not in shown:  # drawn once; a redraw sets the bars' lengths (faster than a new figure)
            fig = Figure(figsize=(FIGURE_WIDTH, 3.4), layout="constrained")
            ax = fig.add_subplot()
            kinds = [COMPONENT_KINDS[name] for name in names]  # the diagrams' colour per component
            ax.barh(names, [0] * len(names), color=[fill(k) for k in kinds], edgecolor=[edge(k) for k in kinds],
                    linewidth=1.5)
            ax.set_xlabel("millions of parameters")
            shown["figure"] = fig
        ax = shown["figure"].axes[0]
        for bar, name in zip(ax.patches, names):
            bar.set_width(parts[name] / 1e6)
        ax.relim()
        ax.autoscale_view()
        ax.set_title(f"{total / 1e6:,.1f} M parameters")
        return ["\n".join(lines), shown["figure"]]

    presets = widgets.Dropdown(options=[*GPT2_CONFIGS, "custom"], value=preset, description="size")
    fields = {key: widgets.BoundedIntText(value=GPT2_CONFIGS[preset][key], min=1, max=_SIZE_MAX[key], description=key,
                                          style={"description_width": "initial"}) for key in _SIZE_KEYS}

    def on_preset(change):  # observes before the playground does, so a new size is drawn once
        if change["new"] in GPT2_CONFIGS:
            playground.set(**{key: GPT2_CONFIGS[change["new"]][key] for key in _SIZE_KEYS})

    def on_field(change):
        if not playground._paused:
            matching = [name for name, cfg in GPT2_CONFIGS.items()
                        if all(cfg[key] == fields[key].value for key in _SIZE_KEYS)]
            presets.value = matching[0] if matching else "custom"

    presets.observe(on_preset, names="value")
    for field in fields.values():
        field.observe(on_field, names="value")
    playground = Playground("Model size explorer", {"preset": presets, **fields}, draw)
    return playground


# ----------------------------------------------------------------------------- GELU and LayerNorm


def activation_playground():
    """GELU (the package's) against ReLU over an adjustable range of inputs."""
    gelu = GELU()

    def draw(x_range):
        x = torch.linspace(*x_range, 401, dtype=torch.float64)
        y = gelu(x)
        fig = Figure(figsize=(8, 4), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(x, torch.relu(x), color=GREY, linewidth=2.5, label="ReLU")
        ax.plot(x, y, color=VERMILLION, linewidth=2.5, label="GELU")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel("x")
        ax.legend()
        ax.set_title("GELU is smooth and lets small negative values through")
        low = int(torch.argmin(y))
        text = (f"x from {x_range[0]:.1f} to {x_range[1]:.1f}: GELU's smallest value here is "
                f"{rounded(y[low], 4).item()} at x = {rounded(x[low], 2).item()}")
        return [text, fig]

    return Playground("GELU vs ReLU", {
        "x_range": _slider(widgets.FloatRangeSlider, "x range", min=-10.0, max=10.0, step=0.5, value=(-4.0, 4.0),
                           readout_format=".1f", layout=widgets.Layout(width="460px")),
    }, draw)


HISTOGRAM_BINS = 40
# The playground's sliders reach offsets of +-10 and spreads up to 5, and no seed's 768 draws go past 4.6
# standard deviations: fixed axes hold every input and every output, so moving a slider moves the bars,
# never the axis (an axis that followed the data would make every input look alike).
_INPUT_RANGE, _OUTPUT_RANGE = (-35.0, 35.0), (-5.0, 5.0)


def _show_histogram(ax, values):
    """Set the axes' bars to the histogram of `values` (HISTOGRAM_BINS equal bins over their range).

    Only the count axis follows the data; the value axis stays where the figure put it."""
    counts, edges = np.histogram(values, HISTOGRAM_BINS)
    for bar, count, left, right in zip(ax.patches, counts, edges[:-1], edges[1:]):
        bar.set_x(left)
        bar.set_width(right - left)
        bar.set_height(count)
    ax.relim()
    ax.autoscale_view(scalex=False)


def layernorm_playground(emb_dim=768):
    """A random token vector (seed, offset, spread) before and after the package's LayerNorm.

    The sliders are named offset and spread, not shift and scale: those are the LayerNorm's own learned
    parameters, which stay at zeros and ones here."""
    norm = LayerNorm(emb_dim)
    shown = {}  # the figure, drawn once; a redraw moves its bars (much faster than a new figure)

    def draw(seed, offset, spread):
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(emb_dim, generator=generator) * spread + offset
        with torch.no_grad():
            y = norm(x)
        if "figure" not in shown:
            fig = Figure(figsize=(FIGURE_WIDTH, 3.6), layout="constrained")
            for i, (colour, value_range) in enumerate(((GREY, _INPUT_RANGE), (BLUE, _OUTPUT_RANGE))):
                ax = fig.add_subplot(1, 2, i + 1)
                ax.bar(np.arange(HISTOGRAM_BINS), np.zeros(HISTOGRAM_BINS), align="edge", color=colour)
                ax.axvline(0, color="black", linewidth=0.8)
                ax.set_xlim(value_range)
                ax.set_xlabel("value")
                ax.set_ylabel(f"count (of {emb_dim} values)")
            shown["figure"] = fig
        fig = shown["figure"]
        stats = []
        for ax, values, name in zip(fig.axes, (x, y), ("input", "after LayerNorm")):
            _show_histogram(ax, values.numpy())
            ax.set_title(f"{name}: mean {rounded(values.mean(), 2).item()}, "
                         f"variance {rounded(values.var(unbiased=False), 2).item()}")
            stats.append(f"{name:>16}: mean {rounded(values.mean(), 4).item():>9}, "
                         f"variance {rounded(values.var(unbiased=False), 4).item():>9}")
        return ["\n".join(stats), fig]

    return Playground(f"LayerNorm on a random {emb_dim}-value vector", {
        "seed": _slider(widgets.IntSlider, "seed", min=0, max=200, value=123),
        "offset": _slider(widgets.FloatSlider, "offset (added)", min=-10.0, max=10.0, step=0.5, value=3.0),
        "spread": _slider(widgets.FloatSlider, "spread (multiplied)", min=0.1, max=5.0, step=0.1, value=2.0),
    }, draw)



# ----------------------------------------------------------------------------- notebook 14: KV cache per model

# Published architectures (config.json of each model): layers, query heads, key/value heads, head_dim.
KV_MODELS = {
    "GPT-2 small (124M)": (12, 12, 12, 64),
    "GPT-2 XL (1.5B)": (48, 25, 25, 64),
    "Llama 3.2 1B": (16, 32, 8, 64),
    "Llama 3 8B": (32, 32, 8, 128),
    "Qwen3 8B": (36, 32, 8, 128),
    "Llama 3 70B": (80, 64, 8, 128),
}


def kv_cache_explorer(preset="Llama 3 8B"):
    """The KV cache of one sequence for a real model's shape: multi-head, its own grouping and multi-query."""
    from .llama import kv_cache_bytes_per_token

    def draw(model, context, dtype):
        n_layers, n_heads, n_kv, head_dim = KV_MODELS[model]
        bytes_per_value = {"float32 (4 bytes)": 4, "bfloat16 (2 bytes)": 2, "int8 (1 byte)": 1}[dtype]
        rows = [(f"MHA: {n_heads} key/value heads", n_heads), (f"this model: {n_kv}", n_kv),
                ("MQA: 1 key/value head", 1)]
        sizes = []
        for _, kv in rows:
            # Bytes per token do not depend on the context length (a short one keeps the config's mask small).
            cfg = {"vocab_size": 1, "context_length": 1, "emb_dim": n_heads * head_dim, "n_heads": n_heads,
                   "n_kv_heads": kv, "n_layers": n_layers, "hidden_dim": 1, "head_dim": head_dim}
            sizes.append(kv_cache_bytes_per_token(cfg, bytes_per_value))
        fig = Figure(figsize=(FIGURE_WIDTH, 2.8), layout="constrained")
        ax = fig.add_subplot()
        colours = [fill("attn"), fill("block"), fill("embed")]
        bars = ax.barh([label for label, _ in rows][::-1], [s * context / 2**20 for s in sizes][::-1],
                       color=colours[::-1], edgecolor=edge("attn"))
        for bar, size in zip(bars, sizes[::-1]):
            ax.annotate(f" {size / 1024:,.0f} KiB/token", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                        va="center", fontsize=10.5)
        ax.set_xlim(0, 1.35 * max(sizes) * context / 2**20)
        ax.set_xlabel(f"MiB of cache for one sequence of {context:,} tokens")
        ax.set_title(f"{model}: {n_layers} layers, {n_heads} query heads of {head_dim}")
        text = (f"{model} caches {sizes[1]:,} bytes per token ({n_kv} key/value heads in each of {n_layers} layers); "
                f"with a key/value head per query head it would be {sizes[0] // sizes[1]}x as much")
        return [text, fig]

    return Playground("KV cache per sequence", {
        "model": widgets.Dropdown(description="model", options=list(KV_MODELS), value=preset,
                                  layout=widgets.Layout(width="280px")),
        "context": _slider(widgets.SelectionSlider, "tokens", options=[1024, 2048, 4096, 8192, 32768, 131072],
                           value=8192),
        "dtype": widgets.Dropdown(description="numbers", options=["float32 (4 bytes)", "bfloat16 (2 bytes)",
                                                                  "int8 (1 byte)"], value="bfloat16 (2 bytes)",
                                  layout=widgets.Layout(width="280px")),
    }, draw)
