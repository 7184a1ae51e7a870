"""The notebooks' widgets, driven without a browser: set a control, check what the Output widget now holds."""

import base64
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from gpt_from_scratch import (  # noqa: E402
    GPT2_CONFIGS,
    GPT_CONFIG_124M,
    GPTModel,
    count_parameters,
    generate_text_simple,
    get_tokenizer,
    meta_model,
    text_to_token_ids,
    token_ids_to_text,
)
from gpt_from_scratch.sampling import generate  # noqa: E402
from gpt_from_scratch.widgets import (  # noqa: E402
    STYLE,
    _png,
    activation_playground,
    attention_explorer,
    attention_maps,
    generation_playground,
    layernorm_playground,
    model_size_explorer,
    plot_attention,
    tick_positions,
    token_label,
)

pytestmark = pytest.mark.filterwarnings("error")  # a warning would show up as stderr in a notebook

# The real vocabulary (so the real tokenizer works), everything else tiny.
SMALL = {**GPT_CONFIG_124M, "emb_dim": 16, "n_heads": 4, "n_layers": 2, "context_length": 16}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(123)
    return GPTModel(SMALL).eval()


def shown(playground):
    """(the text, the PNG images) that the playground's Output holds (HTML counts as its plain text);
    fails on any error output, and on a busy cue left showing."""
    texts, images = [], []
    assert playground.status.value == ""
    for out in playground.output.outputs:
        assert out["output_type"] in ("stream", "display_data"), out
        if out["output_type"] == "stream":
            assert out["name"] == "stdout", out
            texts.append(out["text"])
        elif "text/html" in out["data"]:
            texts.append(out["data"]["text/plain"] + "\n")
        else:
            images.append(out["data"]["image/png"])
    text = "".join(texts)
    assert "Traceback" not in text
    return text, images


def test_attention_explorer_follows_its_controls(model):
    explorer = attention_explorer(model, get_tokenizer(), text="one two three four")
    assert set(explorer.controls) == {"text", "layer", "head"}
    assert explorer.controls["layer"].max == 1 and explorer.controls["head"].max == 3
    text, [first] = shown(explorer)
    assert text.startswith("4 tokens · layer 0, head 0")

    explorer.controls["head"].value = 2
    text, [image] = shown(explorer)
    assert "layer 0, head 2" in text and image != first

    explorer.controls["layer"].value = 1
    text, [image2] = shown(explorer)
    assert "layer 1, head 2" in text and image2 != image

    explorer.controls["text"].value = "Hello, I am a model"
    text, [_] = shown(explorer)
    assert text.startswith("6 tokens · layer 1, head 2")

    explorer.controls["text"].value = "猫 means cat"  # a glyph the plot font lacks: drawn as a box, no warning
    assert shown(explorer)[1]


@pytest.mark.parametrize("text,message", [
    ("", "text is empty"),
    ("word " * 20, "context_length is 16"),
])
def test_attention_explorer_explains_bad_text(model, text, message):
    explorer = attention_explorer(model)
    explorer.controls["text"].value = text
    shown_text, images = shown(explorer)
    assert message in shown_text and images == []
    explorer.controls["text"].value = "back to normal"
    shown_text, [_] = shown(explorer)
    assert shown_text.startswith("3 tokens")


def test_attention_maps_are_each_blocks_weights_on_its_normed_input(model):
    ids = text_to_token_ids("The cat sat on the mat")
    model.train()  # attention_maps must switch dropout off, and give the mode back afterwards
    maps = attention_maps(model, ids)
    assert model.training
    model.eval()
    with torch.no_grad():
        x = model.tok_emb(ids) + model.pos_emb(torch.arange(ids.shape[1]))
        for block, weights in zip(model.trf_blocks, maps):
            assert weights.shape == (4, 6, 6)
            torch.testing.assert_close(weights, block.att.attention_weights(block.norm1(x))[0])
            torch.testing.assert_close(weights.sum(-1), torch.ones(4, 6))
            assert torch.all(weights.triu(diagonal=1) == 0)  # no token looks ahead
            x = block(x)


def test_generation_playground(model):
    playground = generation_playground(model, get_tokenizer(), prompt="Hello, I am")
    assert set(playground.controls) == {"prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed"}
    playground.set(max_new_tokens=4)
    text, images = shown(playground)
    assert images == []  # the steps are an HTML table: no PNG to encode
    bars = text.split("step 1:")[1]
    greedy = generate_text_simple(model, text_to_token_ids("Hello, I am"), 4, SMALL["context_length"])
    assert "prompt ids: [15496, 11, 314, 716]" in text
    assert f"new ids:    {greedy[0, 4:].tolist()}   (greedy" in text
    assert f"text: {token_ids_to_text(greedy)}" in text

    playground.set(temperature=1.5, top_k=20, seed=1)
    sampled, _ = shown(playground)
    expected = generate(model, text_to_token_ids("Hello, I am"), 4, temperature=1.5, top_k=20,
                        generator=torch.Generator().manual_seed(1))
    assert (f"new ids:    {expected[0, 4:].tolist()}   (sampled with temperature 1.5, top-k 20, top-p off, seed 1)"
            in sampled)
    assert sampled.split("step 1:")[1] != bars
    playground.set(top_p=0.5)
    nucleus, _ = shown(playground)
    expected = generate(model, text_to_token_ids("Hello, I am"), 4, temperature=1.5, top_k=20, top_p=0.5,
                        generator=torch.Generator().manual_seed(1))
    assert f"new ids:    {expected[0, 4:].tolist()}   (sampled with temperature 1.5, top-k 20, top-p 0.5, seed 1)" in nucleus
    playground.set(top_p=1.0)
    playground.set(seed=2)
    assert shown(playground)[0] != sampled
    playground.set(seed=1)  # the same seed gives the same tokens again
    assert shown(playground)[0] == sampled

    playground.set(max_new_tokens=12)  # prompt + new tokens > context_length 16: the window slides
    text, _ = shown(playground)
    assert len(text.split("new ids:")[1].split("]")[0].split(",")) == 12

    playground.set(max_new_tokens=0)
    text, images = shown(playground)
    assert "new ids:    []" in text and images == []

    playground.set(prompt="")
    text, images = shown(playground)
    assert "text is empty" in text and images == []


def test_model_size_explorer_presets_and_edits():
    explorer = model_size_explorer()
    text, [chart] = shown(explorer)
    assert "163,009,536" in text and "MB in float32" in text

    explorer.controls["preset"].value = "gpt2-medium (355M)"
    medium = count_parameters(meta_model(GPT2_CONFIGS["gpt2-medium (355M)"]))
    text, [chart2] = shown(explorer)
    assert f"{medium:,}" in text and chart2 != chart
    assert explorer.controls["emb_dim"].value == 1024

    explorer.controls["n_heads"].value = 7  # 1024 is not divisible by 7
    text, images = shown(explorer)
    assert "must be divisible by" in text and images == []
    assert explorer.controls["preset"].value == "custom"

    explorer.controls["n_heads"].value = 16  # back to exactly gpt2-medium: the dropdown says so
    assert explorer.controls["preset"].value == "gpt2-medium (355M)"
    assert f"{medium:,}" in shown(explorer)[0]


def test_activation_playground_redraws_for_a_new_range():
    playground = activation_playground()
    text, [image] = shown(playground)
    assert "x from -4.0 to 4.0" in text and "-0.17" in text  # GELU's minimum, near x = -0.75
    playground.controls["x_range"].value = (0.0, 6.0)
    text, [image2] = shown(playground)
    assert "x from 0.0 to 6.0" in text and "smallest value here is 0.0 at x = 0.0" in text
    assert image2 != image


def test_layernorm_playground_normalizes_any_input():
    playground = layernorm_playground()
    text, [image] = shown(playground)
    assert "after LayerNorm: mean       0.0, variance       1.0" in text
    playground.set(offset=-7.5, spread=0.5)
    text2, [image2] = shown(playground)
    assert text2 != text and image2 != image
    assert "after LayerNorm: mean       0.0, variance       1.0" in text2
    playground.controls["seed"].value = 7
    assert shown(playground)[1] != [image2]


def test_layernorm_playground_moves_the_input_bars_not_the_axis():
    """The input's value axis stays fixed, so a larger offset moves the bars right and a larger spread
    widens them (an axis that followed the data would show every input alike)."""
    playground = layernorm_playground()

    def input_axis(offset, spread):
        ax = playground._draw(seed=123, offset=offset, spread=spread)[1].axes[0]
        lefts = [bar.get_x() for bar in ax.patches]
        return ax.get_xlim(), min(lefts), max(lefts)

    limits, low, high = input_axis(0.0, 1.0)
    moved_limits, moved_low, moved_high = input_axis(8.0, 1.0)
    wide_limits, wide_low, wide_high = input_axis(0.0, 4.0)
    assert limits == moved_limits == wide_limits
    assert moved_low == pytest.approx(low + 8.0, abs=1e-4) and moved_high == pytest.approx(high + 8.0, abs=1e-4)
    assert wide_high - wide_low == pytest.approx(4 * (high - low), rel=1e-4)
    assert limits[0] <= -10 - 5 * 4.6 and limits[1] >= 10 + 5 * 4.6  # every slider setting fits


def test_widgets_store_a_stable_text_in_notebooks(model):
    for playground in (attention_explorer(model), activation_playground()):
        bundle = playground._repr_mimebundle_()
        assert bundle["text/plain"] == f"{playground.title} (a widget: it appears when this cell runs in a live kernel)"
    assert len(repr(layernorm_playground())) <= 110  # ipywidgets cuts a longer text with "…"


def test_importing_the_package_does_not_import_ipywidgets():
    code = "import sys, gpt_from_scratch; print('ipywidgets' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


class _TinyTokenizer:
    """A tokenizer that is not GPT-2's: one id per character of a small alphabet (like the trained model's)."""

    alphabet = "abcdefghijklmnopqrstuvwxyz ,.'"
    n_vocab = 31

    def encode(self, text, allowed_special=()):
        return [self.alphabet.index(c) if c in self.alphabet else 30 for c in text.lower()]

    def decode(self, ids):
        return "".join("Ã" * 60 if i == 30 else self.alphabet[i] for i in ids)


def test_generation_playground_with_another_tokenizer_and_odd_tokens():
    torch.manual_seed(0)
    small = GPTModel({**SMALL, "vocab_size": 31}).eval()
    playground = generation_playground(small, _TinyTokenizer(), prompt="hello <world>")  # < and > -> id 30
    playground.set(max_new_tokens=5, temperature=1.0, top_p=0.9)
    text, images = shown(playground)
    assert "prompt ids: [7, 4, 11, 11, 14, 26, 30" in text and images == []
    markup = "".join(out["data"]["text/html"] for out in playground.output.outputs if "text/html" in out["data"])
    table = markup.split("<table")[1]
    assert "Ã" * 11 + "…" in table and "Ã" * 12 not in table  # a 60-character token, shortened in the table
    assert "word-break:break-all" in markup.split("<table")[0]  # and allowed to break in the text line
    assert "<world>" not in markup  # the prompt's characters are escaped (and shown as id 30's label)


def test_step_logits_are_the_logits_each_step_saw(model):
    from gpt_from_scratch.widgets import step_logits

    for new in (4, 14):  # within the context (one forward pass), and past it (a sliding window per step)
        out = generate(model, text_to_token_ids("Hello, I am"), new)
        steps = step_logits(model, out, 4)
        assert steps.shape == (new, SMALL["vocab_size"])
        for s in range(new):
            window = out[:, :4 + s][:, -SMALL["context_length"]:]
            torch.testing.assert_close(steps[s], model(window)[0, -1].double(), atol=1e-5, rtol=1e-5)
            assert steps[s].argmax().item() == out[0, 4 + s].item()  # greedy took the argmax


def test_a_redrawn_figure_is_the_figure_drawn_for_those_values(model):
    """The attention explorer and the LayerNorm playground redraw by updating one figure in place: going back
    to earlier values gives exactly the earlier image, and other values give another image."""
    explorer = attention_explorer(model, get_tokenizer(), text="one two three four")
    first = shown(explorer)[1]
    explorer.controls["head"].value = 3
    assert shown(explorer)[1] != first
    explorer.controls["head"].value = 0
    assert shown(explorer)[1] == first

    playground = layernorm_playground()
    first = shown(playground)[1]
    playground.controls["seed"].value = 5
    assert shown(playground)[1] != first
    playground.controls["seed"].value = 123
    assert shown(playground)[1] == first


def test_the_partial_redraw_of_the_attention_explorer_is_the_full_drawing(model):
    """Another head redraws only the image, numbers, frame and title over pixels kept from the first draw
    (widgets.plot_attention): the result must be exactly what drawing the whole figure gives."""
    tokenizer = get_tokenizer()
    # 4 tokens: a number in every cell; 12 tokens (more than 10): no numbers
    for text in ("one two three four", "one two three four five six seven eight nine ten eleven twelve"):
        explorer = attention_explorer(model, tokenizer, text=text)
        explorer.controls["head"].value = 3  # a partial redraw of the figure drawn for head 0
        partial = base64.b64decode(shown(explorer)[1][0])
        ids = text_to_token_ids(text, tokenizer)
        tokens = [tokenizer.decode([i]) for i in ids[0].tolist()]
        with matplotlib.rc_context({**STYLE, "text.parse_math": False}):  # as the widget draws
            figure = plot_attention(attention_maps(model, ids)[0][3], tokens, "layer 0, head 3")
            for artist in figure.changing_artists:  # an ordinary figure: everything drawn in one pass
                artist.set_animated(False)
            figure.changing_artists = []
            full = _png(figure)
        assert partial == full, text


def test_the_attention_explorer_always_labels_the_positions_asked_for(model):
    """A long text gets every 2nd token labelled; positions in `labelled` are labelled (in bold) even when
    they fall between, and no other label is placed closer than that step to them."""
    assert tick_positions(12, 2) == list(range(0, 12, 2))
    assert tick_positions(12, 2, [3, 7, 40]) == [0, 3, 5, 7, 9, 11]  # 40: past the text, ignored
    tokens = [f" w{i}" for i in range(45)]  # long enough that only every 2nd token gets a label
    weights = torch.tril(torch.ones(45, 45)) / torch.arange(1, 46).unsqueeze(1)
    plain = plot_attention(weights, tokens, "t").axes[0]
    assert [int(t) for t in plain.get_yticks()] == list(range(0, 45, 2)) and "every 2nd" in plain.get_xlabel()
    ax = plot_attention(weights, tokens, "t", labelled=[3, 7]).axes[0]
    ticks = [int(t) for t in ax.get_yticks()]
    assert 3 in ticks and 7 in ticks
    assert all(abs(t - k) >= 2 for t in ticks for k in (3, 7) if t not in (3, 7))
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        assert [label.get_text() for label in labels] == [token_label(tokens[t]) for t in ticks]
        assert [t for t, label in zip(ticks, labels) if label.get_fontweight() == "bold"] == [3, 7]
    assert "bold" in ax.get_xlabel()

    explorer = attention_explorer(model, get_tokenizer(), text="one two three four", labelled=[2])
    assert shown(explorer)[1]
    with pytest.raises(TypeError, match="labelled must hold token positions"):
        attention_explorer(model, get_tokenizer(), text="one two three four", labelled="2")
