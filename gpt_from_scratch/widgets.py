"""Interactive widgets for the notebooks (ipywidgets + matplotlib).

    from gpt_from_scratch.widgets import attention_explorer
    attention_explorer(model)          # the last line of a cell displays it

Every function returns a `Playground`: an ipywidgets VBox whose `controls` dict holds its sliders and
text boxes and whose `output` (an ipywidgets Output) shows the result. Changing a control redraws the
output; a value the model cannot use (an empty text, a config whose emb_dim does not divide by
n_heads) shows the package's error message instead of a traceback.

Not imported by `import gpt_from_scratch`: ipywidgets and matplotlib would add about half a second
to every notebook's first import, and only a few notebooks use widgets.
"""

import base64
import io
import warnings

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from .checks import MAX_CONTEXT_LENGTH, check_gpt_model, check_token_ids
from .config import GPT2_CONFIGS, GPT_CONFIG_124M
from .display import rounded
from .feedforward import GELU
from .layernorm import LayerNorm
from .params import count_parameters, meta_model, model_size_mb, parameter_breakdown
from .tokenizer import get_tokenizer, text_to_token_ids

# Okabe-Ito colours (safe for colour-blind viewers), as in the diagrams of imgs/.
BLUE, SKY, ORANGE, GREEN, YELLOW, VERMILLION, GREY = (
    "#0072B2", "#56B4E9", "#E69F00", "#009E73", "#F0E442", "#D55E00", "#999999")


# ----------------------------------------------------------------------------- the shared machinery


def _as_output(item):
    """An Output-widget entry for `item`: a matplotlib Figure becomes a PNG, anything else text."""
    if isinstance(item, Figure):
        buffer = io.BytesIO()
        with warnings.catch_warnings():  # a token in a script the font lacks is drawn as a box, silently
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            item.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
        png = base64.b64encode(buffer.getvalue()).decode("ascii")
        return {"output_type": "display_data", "metadata": {},
                "data": {"image/png": png, "text/plain": "<Figure>"}}
    return {"output_type": "stream", "name": "stdout", "text": f"{item}\n"}


class Playground(widgets.VBox):
    """Controls above an Output; `draw(**values)` returns the list of texts and figures to show."""

    def __init__(self, title, controls, draw):
        self.title = title
        self.controls = dict(controls)
        self.output = widgets.Output()
        self._draw = draw
        self._paused = False
        self._shown = None  # the values last drawn: a change that leaves them equal redraws nothing
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([widgets.HTML(f"<b>{title}</b>"), row, self.output])
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
        try:  # drawing and rendering both inside: a figure can fail only when it is saved
            # parse_math off: a '$' in a token or a text is a dollar sign, not the start of a formula
            with matplotlib.rc_context({"text.parse_math": False}):
                outputs = tuple(_as_output(item) for item in self._draw(**self.values))
        except (ValueError, TypeError) as err:  # bad input: say what is wrong, no traceback
            outputs = (_as_output(f"Cannot show this: {err}"),)
        self.output.outputs = outputs  # replaces everything shown before

    def __repr__(self):  # the text a notebook stores for the widget: stable, and useful outside Jupyter
        return f"{self.title} (interactive: run this notebook in Jupyter to use it)"


def _slider(kind, description, **kwargs):
    style = {"description_width": "initial"}
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


def plot_attention(weights, tokens, title):
    """A heatmap of one head's (seq, seq) weights; the blocked future positions are hatched grey."""
    weights = weights.detach().to("cpu", torch.float64).numpy()
    seq = len(tokens)
    future = np.triu(np.ones((seq, seq), dtype=bool), k=1)
    size = min(9.0, 2.5 + 0.45 * seq)
    fig = Figure(figsize=(size + 1.2, size))
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#e6e6e6")
    image = ax.imshow(np.ma.masked_where(future, weights), cmap=cmap, vmin=0, vmax=1)
    labels = [repr(t)[1:-1] for t in tokens]  # shows spaces at the edges and \n
    ax.set_xticks(range(seq), labels, rotation=90)
    ax.set_yticks(range(seq), labels)
    ax.set_xlabel("key: the token looked at")
    ax.set_ylabel("query: the token looking")
    ax.set_title(title)
    if seq <= 12:
        for i in range(seq):
            for j in range(i + 1):
                ax.text(j, i, f"{weights[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if weights[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return fig


def attention_explorer(model, tokenizer=None, text="The robot picked up the ball because it was light"):
    """Type a text, pick a block (layer) and a head, and see which earlier tokens each token attends to."""
    check_gpt_model(model)
    tokenizer = tokenizer or get_tokenizer()
    cache = {}

    def draw(text, layer, head):
        if text not in cache:
            ids = text_to_token_ids(text, tokenizer)
            cache.clear()
            cache[text] = ([tokenizer.decode([i]) for i in ids[0].tolist()], attention_maps(model, ids))
        tokens, maps = cache[text]
        summary = (f"{len(tokens)} tokens · layer {layer}, head {head}: row i shows how token i spreads its "
                   "attention over tokens 0..i (each row sums to 1; grey = future, blocked)")
        return [summary, plot_attention(maps[layer][head], tokens, f"layer {layer}, head {head}")]

    n_layers = len(model.trf_blocks)
    n_heads = model.trf_blocks[0].att.num_heads
    return Playground("Attention explorer", {
        "text": widgets.Text(value=text, description="text", continuous_update=False,
                             layout=widgets.Layout(width="60%")),
        "layer": _slider(widgets.IntSlider, "layer (block)", min=0, max=n_layers - 1, value=0),
        "head": _slider(widgets.IntSlider, "head", min=0, max=n_heads - 1, value=0),
    }, draw)


# ----------------------------------------------------------------------------- generation playground


def generation_playground(model, tokenizer=None, prompt="Hello, I am", seed=123):
    """Generate from a prompt with a chosen temperature and top-k; see each step's five likeliest tokens."""
    from .sampling import generate, next_token_probs  # notebook 11's sampler

    tokenizer = tokenizer or get_tokenizer()
    context = model.pos_emb.num_embeddings

    def draw(prompt, max_new_tokens, temperature, top_k, seed):
        ids = text_to_token_ids(prompt, tokenizer)
        device = _model_device(model)
        top_k = top_k or None
        # A CPU generator: `generate` draws on it even for a GPU model, so a seed gives the same tokens anywhere.
        generator = torch.Generator().manual_seed(seed) if temperature > 0 else None
        was_training = model.training
        model.eval()
        try:
            out = generate(model, ids.to(device), max_new_tokens, temperature=temperature, top_k=top_k,
                           generator=generator).cpu()
            with torch.no_grad():  # the logits of each step, recomputed from the same context window
                steps = [model(out[:, :ids.shape[1] + s][:, -context:].to(device))[0, -1].cpu().double()
                         for s in range(out.shape[1] - ids.shape[1])]
        finally:
            model.train(was_training)
        if temperature > 0:
            probs = [next_token_probs(logits, temperature, top_k) for logits in steps]
            mode = f"sampled with temperature {temperature:g}, top-k {top_k or 'off'}, seed {seed}"
        else:
            probs = [torch.softmax(logits, dim=-1) for logits in steps]
            mode = "greedy: the most likely token each time"
        new = out[0, ids.shape[1]:].tolist()
        texts = [f"prompt ids: {ids[0].tolist()}", f"new ids:    {new}   ({mode})",
                 f"text: {tokenizer.decode(out[0].tolist())}"]
        return texts + ([_plot_steps(probs, new, tokenizer, mode)] if steps else [])

    return Playground("Generation playground", {
        "prompt": widgets.Text(value=prompt, description="prompt", continuous_update=False),
        "max_new_tokens": _slider(widgets.IntSlider, "new tokens", min=0, max=20, value=6),
        "temperature": _slider(widgets.FloatSlider, "temperature", min=0.0, max=2.0, step=0.1, value=0.0),
        "top_k": _slider(widgets.IntSlider, "top-k (0 = off)", min=0, max=50, value=0),
        "seed": widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
    }, draw)


def _plot_steps(step_probs, chosen, tokenizer, mode, k=5):
    """One small bar chart per step: the k likeliest next tokens, plus the one taken if it is not among them."""
    cols = min(len(step_probs), 4)
    rows = -(-len(step_probs) // cols)
    fig = Figure(figsize=(3.6 * cols, 0.35 * (k + 2) * rows + 0.5), layout="constrained")
    for s, (probs, pick) in enumerate(zip(step_probs, chosen)):
        ids = torch.topk(probs, k).indices.tolist()
        ids += [] if pick in ids else [pick]
        values = [probs[i].item() for i in ids]
        rows_y = list(range(len(ids)))[::-1]  # the likeliest on top
        ax = fig.add_subplot(rows, cols, s + 1)
        ax.barh(rows_y, values, color=[VERMILLION if i == pick else GREY for i in ids])
        ax.set_yticks(rows_y, [repr(tokenizer.decode([i])) for i in ids], fontsize=9)
        for y, value in zip(rows_y, values):
            ax.text(value, y, f" {100 * value:.3g} %", va="center", fontsize=8)
        ax.set_xlim(0, max(values) * 1.6)
        ax.set_xticks([])
        ax.set_title(f"step {s + 1}: {tokenizer.decode([pick])!r}", fontsize=10)
    fig.suptitle(f"top-{k} next-token probabilities at each step ({mode}); red: the token taken", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- model size explorer

_SIZE_KEYS = ("emb_dim", "n_layers", "n_heads", "context_length", "vocab_size")
# Upper bounds for the fields: well above GPT-3 (12,288 wide, 96 layers and heads), low enough that
# building the shapes-only model takes a second at most (a million layers would take minutes).
_SIZE_MAX = {"emb_dim": 65_536, "n_layers": 256, "n_heads": 256, "context_length": MAX_CONTEXT_LENGTH,
             "vocab_size": 1_000_000}


def model_size_explorer(preset="gpt2-small (124M)"):
    """Pick a GPT-2 size or edit the config; see where the parameters are and how much memory they need."""

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
        fig = Figure(figsize=(8, 3.2), layout="constrained")
        ax = fig.add_subplot()
        colours = [SKY, SKY, ORANGE, GREEN, YELLOW, YELLOW, VERMILLION]  # the diagrams' colour per component
        ax.barh(list(parts)[::-1], [v / 1e6 for v in parts.values()][::-1], color=colours[::-1])
        ax.set_xlabel("millions of parameters")
        ax.set_title(f"{total / 1e6:,.1f} M parameters")
        return ["\n".join(lines), fig]

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
        fig = Figure(figsize=(7, 4), layout="constrained")
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
        "x_range": _slider(widgets.FloatRangeSlider, "x range", min=-10.0, max=10.0, step=0.5, value=(-4.0, 4.0)),
    }, draw)


def layernorm_playground(emb_dim=768):
    """A random token vector (seed, shift, scale) before and after the package's LayerNorm."""
    norm = LayerNorm(emb_dim)

    def draw(seed, shift, scale):
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(emb_dim, generator=generator) * scale + shift
        with torch.no_grad():
            y = norm(x)
        fig = Figure(figsize=(9, 3.4), layout="constrained")
        stats = []
        for i, (values, name, colour) in enumerate(((x, "input", GREY), (y, "after LayerNorm", BLUE))):
            ax = fig.add_subplot(1, 2, i + 1)
            ax.hist(values.numpy(), bins=40, color=colour)
            ax.set_title(f"{name}: mean {rounded(values.mean(), 2).item()}, "
                         f"variance {rounded(values.var(unbiased=False), 2).item()}")
            stats.append(f"{name:>16}: mean {rounded(values.mean(), 4).item():>9}, "
                         f"variance {rounded(values.var(unbiased=False), 4).item():>9}")
        return ["\n".join(stats), fig]

    return Playground(f"LayerNorm on a random {emb_dim}-value vector", {
        "seed": _slider(widgets.IntSlider, "seed", min=0, max=200, value=123),
        "shift": _slider(widgets.FloatSlider, "shift", min=-10.0, max=10.0, step=0.5, value=3.0),
        "scale": _slider(widgets.FloatSlider, "scale", min=0.1, max=10.0, step=0.1, value=2.0),
    }, draw)
