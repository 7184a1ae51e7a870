"""Every exercise checker accepts the reference solution and rejects a typical mistake.

The reference solutions below are the ones in the notebooks' <details> boxes, recomputed here; the
mistakes are the ones learners typically make. Each rejection must say what is off (never just "wrong").
"""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt_from_scratch import exercises as ex


def accepted(feedback):
    return feedback.status == ex.CORRECT


def rejected(feedback, *words):
    """Rejected, with a message that explains (contains every one of `words`)."""
    assert feedback.status == ex.NOT_YET, feedback
    assert len(feedback.message) > 40, feedback.message
    for word in words:
        assert word in feedback.message, (word, feedback.message)
    return True


CHECKERS = sorted(name for name in dir(ex) if name.startswith("check_"))


def test_there_are_checkers():
    assert len(CHECKERS) >= 15


@pytest.mark.parametrize("name", CHECKERS)
def test_not_attempted_is_kind_and_stable(name, capsys):
    feedback = getattr(ex, name)(None)
    assert feedback.status == ex.NOT_ATTEMPTED
    printed = capsys.readouterr().out
    assert printed.startswith("Not attempted yet")
    assert getattr(ex, name)(None).message == feedback.message


# 00 ---------------------------------------------------------------------------------------------------


def test_00_1():
    product = tuple((torch.ones(2, 4, 3) @ torch.ones(3, 5)).shape)
    summed = tuple((torch.ones(2, 4, 5) + torch.ones(4, 5)).shape)
    assert accepted(ex.check_00_1((product, summed, False)))
    assert rejected(ex.check_00_1(((2, 4, 3), summed, False)), "last dimension")
    assert rejected(ex.check_00_1((product, summed, True)), "neither is 1")


def test_00_2():
    x2, y2 = torch.tensor([-0.5]), torch.tensor([0.0])
    w2 = torch.tensor([1.0], requires_grad=True)
    b2 = torch.tensor([0.5], requires_grad=True)
    F.binary_cross_entropy(torch.sigmoid(x2 * w2 + b2), y2).backward()
    assert accepted(ex.check_00_2((w2.grad, b2.grad)))
    assert rejected(ex.check_00_2((0.25, -0.5)), "signs")


def test_00_3():
    w3 = torch.tensor([2.2], requires_grad=True)
    for _ in range(2):
        F.binary_cross_entropy(torch.sigmoid(torch.tensor([1.1]) * w3), torch.tensor([1.0])).backward()
    assert accepted(ex.check_00_3(w3.grad))
    assert rejected(ex.check_00_3(w3.grad / 2), "single pass")


# 01 ---------------------------------------------------------------------------------------------------


def test_01_1():
    from gpt_from_scratch import GPT_CONFIG_124M, DummyGPTModel

    counts = []
    for n_layers in (12, 48):
        with torch.device("meta"):
            skeleton = DummyGPTModel({**GPT_CONFIG_124M, "n_layers": n_layers})
        counts.append(sum(p.numel() for p in skeleton.parameters()))
    assert accepted(ex.check_01_1(tuple(counts)))
    assert rejected(ex.check_01_1((counts[0], 4 * counts[0])), "own any parameters")


def test_01_2():
    from gpt_from_scratch import GPT_CONFIG_124M, DummyGPTModel

    with torch.device("meta"):
        model = DummyGPTModel(GPT_CONFIG_124M)
    try:
        model(torch.zeros(1, 1025, dtype=torch.long))
    except ValueError as err:
        answer = err
    assert accepted(ex.check_01_2(answer))
    assert rejected(ex.check_01_2(IndexError("index out of range in self")), "without")


def test_01_3():
    from gpt_from_scratch import get_tokenizer

    single = torch.tensor([get_tokenizer().encode("Every effort moves you forward")])
    assert accepted(ex.check_01_3((*single.shape, 50257)))
    assert rejected(ex.check_01_3((5, 50257)), "batch")
    assert rejected(ex.check_01_3((1, 4, 50257)), "tokens")


# 02 ---------------------------------------------------------------------------------------------------


def test_02_1():
    from gpt_from_scratch import LayerNorm

    with torch.no_grad():
        values = LayerNorm(4)(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    assert accepted(ex.check_02_1(values))
    assert accepted(ex.check_02_1([-1.3416, -0.4472, 0.4472, 1.3416]))
    v = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert rejected(ex.check_02_1((v - v.mean()) / v.std()), "n - 1")


def test_02_2():
    assert accepted(ex.check_02_2(25 * 1536))
    assert rejected(ex.check_02_2(24 * 1536), "final norm")


def test_02_3():
    from gpt_from_scratch import LayerNorm

    torch.manual_seed(123)
    x = torch.randn(2, 4, 768) * 3 + 5
    ours = LayerNorm(768)
    with torch.no_grad():
        assert accepted(ex.check_02_3((ours(10 * x + 3) - ours(x)).abs().max()))
        assert rejected(ex.check_02_3((ours(10 * x + 3) - (10 * ours(x) + 3)).abs().max()), "10 * LayerNorm")


# 03 ---------------------------------------------------------------------------------------------------


def test_03_1():
    d = 1600
    assert accepted(ex.check_03_1(8 * d**2 + 5 * d))
    assert rejected(ex.check_03_1(8 * d**2), "bias")


def test_03_2():
    from gpt_from_scratch import GELU

    pts = torch.tensor([-1.0, -2.0], requires_grad=True)
    GELU()(pts).sum().backward()
    assert accepted(ex.check_03_2(tuple(pts.grad)))
    with torch.no_grad():
        assert rejected(ex.check_03_2(tuple(GELU()(torch.tensor([-1.0, -2.0])))), "values")


def test_03_3():
    torch.manual_seed(123)
    layers = nn.Sequential(nn.Linear(4, 16), nn.Identity(), nn.Linear(16, 4))
    with torch.no_grad():
        W = layers[2].weight @ layers[0].weight
        bias = layers[2].weight @ layers[0].bias + layers[2].bias
    assert accepted(ex.check_03_3((W, bias)))
    assert rejected(ex.check_03_3((W, layers[2].bias.detach())), "W2 @ b1 + b2")


# 04 ---------------------------------------------------------------------------------------------------


def test_04_1():
    from gpt_from_scratch import ExampleDeepNeuralNetwork, layer_gradients

    sample_input, target = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])

    def first(sizes):
        out = {}
        for use_shortcut in (False, True):
            torch.manual_seed(123)
            deep = ExampleDeepNeuralNetwork(sizes, use_shortcut)
            out[use_shortcut] = layer_gradients(deep, sample_input, target)["layers.0.0.weight"]
        return math.log10(out[True] / out[False])

    assert accepted(ex.check_04_1(first([3] * 10 + [1])))
    assert rejected(ex.check_04_1(first([3] * 5 + [1])), "five-layer")


def test_04_2():
    x = torch.tensor(2.0, requires_grad=True)
    (x + torch.tanh(x)).backward()
    assert accepted(ex.check_04_2(x.grad))
    assert rejected(ex.check_04_2(1 - math.tanh(2.0) ** 2), "adds exactly 1")


# 05 ---------------------------------------------------------------------------------------------------


def test_05_1():
    d = 768
    assert accepted(ex.check_05_1((4 * d * d + d, 4 * d * d + d + 3 * d)))
    assert rejected(ex.check_05_1((4 * d * d, 4 * d * d + 3 * d)), "bias")


def test_05_2():
    from gpt_from_scratch import MultiHeadAttention

    torch.manual_seed(123)
    mha4 = MultiHeadAttention(8, 8, context_length=1024, dropout=0.0, num_heads=4)
    with torch.no_grad():
        w4 = mha4.attention_weights(torch.rand(1, 6, 8))
    assert accepted(ex.check_05_2(w4.shape))
    assert rejected(ex.check_05_2((1, 6, 6)), "head")


def test_05_3():
    context_h = torch.rand(1, 4, 6, 2)
    try:
        context_h.transpose(1, 2).view(1, 6, 8)
    except RuntimeError as err:
        answer = err
    assert accepted(ex.check_05_3(answer))
    assert rejected(ex.check_05_3(ValueError("no")), "catch")


def test_05_4():
    torch.manual_seed(123)
    q, k = torch.randn(6, 64), torch.randn(6, 64)
    mask = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    scores = (q @ k.T).masked_fill(mask, -torch.inf)

    def entropy(w):
        return (-torch.special.xlogy(w, w).sum(dim=-1)).mean()

    scaled, unscaled = entropy(torch.softmax(scores / 8, dim=-1)), entropy(torch.softmax(scores, dim=-1))
    assert scaled > unscaled
    assert accepted(ex.check_05_4((scaled, unscaled)))
    assert rejected(ex.check_05_4((unscaled, scaled)), "swapped")


def test_05_5():
    from gpt_from_scratch import MultiHeadAttention

    torch.manual_seed(123)
    mha = MultiHeadAttention(8, 8, context_length=6, dropout=0.0, num_heads=2).eval()
    torch.manual_seed(123)
    x = torch.rand(1, 6, 8)
    changed = x.clone()
    changed[0, -1] = 0.0
    with torch.no_grad():
        causal = (~torch.isclose(mha(x)[0, :5], mha(changed)[0, :5], atol=1e-6).all(dim=-1)).sum()
        mha.mask.fill_(False)
        unmasked = (~torch.isclose(mha(x)[0, :5], mha(changed)[0, :5], atol=1e-6).all(dim=-1)).sum()
    assert accepted(ex.check_05_5(unmasked))
    assert rejected(ex.check_05_5(causal), "Remove the mask")


# 06 ---------------------------------------------------------------------------------------------------


def test_06_1():
    from gpt_from_scratch import GPT_CONFIG_355M, TransformerBlock

    with torch.device("meta"):
        medium_block = TransformerBlock(GPT_CONFIG_355M)
    assert accepted(ex.check_06_1(sum(p.numel() for p in medium_block.parameters())))
    assert rejected(ex.check_06_1(7_085_568), "GPT_CONFIG_355M")


def test_06_2():
    from gpt_from_scratch import GPT_CONFIG_124M, TransformerBlock

    torch.manual_seed(123)
    block = TransformerBlock(GPT_CONFIG_124M).eval()
    x = torch.rand(2, 4, 768)
    x_changed = x.clone()
    x_changed[:, -1, :] = 0.0
    with torch.no_grad():
        before, after = block(x), block(x_changed)
    answer = (torch.allclose(before[:, :3], after[:, :3], atol=1e-6), torch.allclose(before[:, 3], after[:, 3], atol=1e-6))
    assert accepted(ex.check_06_2(answer))
    assert rejected(ex.check_06_2((True, True)), "clone")


def test_06_3():
    from gpt_from_scratch import GPT_CONFIG_124M, TransformerBlock

    tiny_cfg = {**GPT_CONFIG_124M, "emb_dim": 8, "n_heads": 2, "context_length": 4}
    torch.manual_seed(0)
    tiny = TransformerBlock(tiny_cfg).eval()
    assert rejected(ex.check_06_3(tiny), "bias")  # nothing zeroed yet
    with torch.no_grad():
        tiny.att.out_proj.weight.zero_()
        tiny.ff.layers[2].weight.zero_()
    assert rejected(ex.check_06_3(tiny), "bias")  # the biases still shift every token
    with torch.no_grad():
        tiny.att.out_proj.bias.zero_()
        tiny.ff.layers[2].bias.zero_()
    tiny.train()
    assert accepted(ex.check_06_3(tiny))  # the checker runs it in eval mode and leaves its mode as it was
    assert tiny.training
    # The checker recomputes: the difference the learner prints is not what it checks
    assert rejected(ex.check_06_3(torch.tensor(0.0)), "block itself")
    assert rejected(ex.check_06_3(0.0), "block itself")
    tiny.ff.layers[2] = torch.nn.Linear(3, 8)  # replaced by a layer of the wrong shape: feedback, not a traceback
    assert rejected(ex.check_06_3(tiny), "failed")
    assert tiny.training  # the mode is restored even when the block fails


def test_06_4():
    from gpt_from_scratch import GPT_CONFIG_124M, TransformerBlock

    torch.manual_seed(123)
    x = torch.rand(2, 4, 768)
    torch.manual_seed(123)
    block = TransformerBlock(GPT_CONFIG_124M).eval()

    def ratio():
        with torch.no_grad():
            return ((block(100 * x) - 100 * x).norm(dim=-1).mean() / (block(x) - x).norm(dim=-1).mean()).item()

    with_ln = ratio()
    block.norm1, block.norm2 = nn.Identity(), nn.Identity()
    without = ratio()
    assert with_ln < 1.1 < 10 < without
    assert accepted(ex.check_06_4((with_ln, without)))
    assert rejected(ex.check_06_4((without, with_ln)), "swapped")


# 07 ---------------------------------------------------------------------------------------------------


def test_07_1():
    assert accepted(ex.check_07_1((True, False)))
    assert rejected(ex.check_07_1((True, True)), "clone")


def test_07_2():
    assert accepted(ex.check_07_2(torch.tensor(False)))
    assert rejected(ex.check_07_2(True), "n_blocks=12")


def test_07_3():
    from gpt_from_scratch import GPT_CONFIG_124M, GPTModel

    small_cfg = {**GPT_CONFIG_124M, "context_length": 64, "emb_dim": 128, "n_heads": 4, "n_layers": 2}
    torch.manual_seed(123)
    small = GPTModel(small_cfg).eval()
    random_ids = torch.randint(0, small_cfg["vocab_size"], (3, 6))
    with torch.no_grad():
        shape = tuple(small(random_ids).shape)
    total = sum(p.numel() for p in small.parameters())
    share = (small.tok_emb.weight.numel() + small.out_head.weight.numel()) / total
    assert accepted(ex.check_07_3((shape, total, share)))
    assert rejected(ex.check_07_3((shape, total, 100 * share)), "fraction")


# 08 ---------------------------------------------------------------------------------------------------


def test_08_1():
    from gpt_from_scratch import GPT2_CONFIGS, count_parameters_tied, meta_model

    names = ["gpt2-small (124M)", "gpt2-xl (1558M)"]
    with_bias = [count_parameters_tied(meta_model({**GPT2_CONFIGS[n], "qkv_bias": True})) for n in names]
    without = [count_parameters_tied(meta_model(GPT2_CONFIGS[n])) for n in names]
    assert accepted(ex.check_08_1(tuple(with_bias)))
    assert rejected(ex.check_08_1(tuple(without)), "qkv_bias=True")


def test_08_2():
    from gpt_from_scratch import GPT_CONFIG_124M, count_parameters, meta_model, parameter_breakdown

    model = meta_model(GPT_CONFIG_124M)
    longer = meta_model({**GPT_CONFIG_124M, "context_length": 2048})
    before, after = parameter_breakdown(model), parameter_breakdown(longer)
    answer = (count_parameters(longer) - count_parameters(model), [k for k in before if before[k] != after[k]])
    assert accepted(ex.check_08_2(answer))
    mask_growth = 12 * (2048**2 - 1024**2)
    assert rejected(ex.check_08_2((answer[0] + mask_growth, answer[1])), "buffer")


def test_08_3():
    def total_from_config(cfg):
        d, v, t, n = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"], cfg["n_layers"]
        per_block = 12 * d * d + 10 * d + (3 * d if cfg["qkv_bias"] else 0)
        return v * d + t * d + n * per_block + 2 * d + d * v

    def forgot_final_norm(cfg):
        return total_from_config(cfg) - 2 * cfg["emb_dim"]

    assert accepted(ex.check_08_3(total_from_config))
    assert rejected(ex.check_08_3(forgot_final_norm), "final norm")


# 09 ---------------------------------------------------------------------------------------------------


def test_09_1():
    from gpt_from_scratch import GPT_CONFIG_124M, GPTModel, generate_text_simple, get_tokenizer, text_to_token_ids

    tokenizer = get_tokenizer()
    torch.manual_seed(123)
    model = GPTModel(GPT_CONFIG_124M).eval()
    batch = torch.cat([text_to_token_ids(t, tokenizer) for t in ("Hello, I am", "Every effort moves you")])
    with torch.no_grad():
        batch_out = generate_text_simple(model, batch, 3, 1024)
    assert accepted(ex.check_09_1(batch_out))
    assert rejected(ex.check_09_1(batch_out.flip(0)), "prompts")


def test_09_2():
    assert accepted(ex.check_09_2(([4] * 6, [4, 5, 6, 7, 8, 9])))
    assert rejected(ex.check_09_2(([4, 5, 6, 7, 8, 9], [4] * 6)), "swapped")


def test_09_3():
    from gpt_from_scratch import GPTModel, generate_text_simple, get_tokenizer, text_to_token_ids

    cfg = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
           "drop_rate": 0.0, "qkv_bias": False}
    model = GPTModel(cfg).eval()
    encoded = text_to_token_ids("Hello, I am", get_tokenizer())
    result = generate_text_simple(model, encoded, 0, 1024)
    try:
        generate_text_simple(model, encoded, 6, 2048)
    except ValueError as err:
        error = err
    assert accepted(ex.check_09_3((result, error)))
    assert rejected(ex.check_09_3((result, RuntimeError("x"))), "ValueError")
    assert rejected(ex.check_09_3((result, ValueError)), "caught")  # the class typed in, not the error raised
    assert rejected(ex.check_09_3((result, ValueError("x"))), "caught")


# 11 ---------------------------------------------------------------------------------------------------

WORDS = ["mat", "sofa", "floor", "bed", "roof", "chair", "table", "keyboard", "moon", "banana"]
TOY = torch.tensor([4.0, 3.0, 2.8, 2.5, 2.0, 1.6, 1.0, 0.2, -1.0, -2.0])


def kept_words(filtered):
    return [w for w, keep in zip(WORDS, torch.isfinite(filtered).tolist()) if keep]


def test_11_1():
    from gpt_from_scratch import next_token_probs

    def count(t):
        draws = torch.multinomial(next_token_probs(TOY, temperature=t), 1000, replacement=True,
                                  generator=torch.Generator().manual_seed(123))
        return (draws == 0).sum()

    assert accepted(ex.check_11_1(count(0.05)))
    assert rejected(ex.check_11_1(count(1.0)), "T = 1")


def test_11_2():
    from gpt_from_scratch import top_p_filter

    answer = (kept_words(top_p_filter(TOY, 0.5)), kept_words(top_p_filter(TOY, 0.45)))
    assert answer == (["mat", "sofa"], ["mat"])
    assert accepted(ex.check_11_2(answer))
    assert rejected(ex.check_11_2((["mat", "sofa"], ["mat", "sofa"])), "0.45")


def test_11_3():
    from gpt_from_scratch import top_p_filter

    answer = (len(kept_words(top_p_filter(TOY, 0.9))), len(kept_words(top_p_filter(TOY / 2.0, 0.9))))
    assert accepted(ex.check_11_3(answer))
    assert rejected(ex.check_11_3((answer[0], answer[0])), "flatter")


# 12 ---------------------------------------------------------------------------------------------------


def test_12_1():
    from gpt_from_scratch import GPT2_CONFIGS

    def cache_mib(cfg, batch_size=1):
        head_dim = cfg["emb_dim"] // cfg["n_heads"]
        n_bytes = 2 * batch_size * cfg["n_layers"] * cfg["n_heads"] * cfg["context_length"] * head_dim * 4
        return n_bytes // 1024**2

    answer = (cache_mib(GPT2_CONFIGS["gpt2-small (124M)"]), cache_mib(GPT2_CONFIGS["gpt2-xl (1558M)"], batch_size=8))
    assert accepted(ex.check_12_1(answer))
    assert rejected(ex.check_12_1((answer[0] // 2, answer[1] // 2)), "keys *and* values")


def test_12_2():
    from gpt_from_scratch import GPTModel, KVCache, forward_with_cache

    cfg = {"vocab_size": 50257, "context_length": 16, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
           "drop_rate": 0.0, "qkv_bias": False}
    torch.manual_seed(123)
    model = GPTModel(cfg).eval()
    ids = torch.randint(0, 50257, (1, 7))
    query_rows, key_rows = [], []
    handle = model.trf_blocks[0].att.W_query.register_forward_hook(lambda m, i, out: query_rows.append(out.shape[1]))
    cache = KVCache.for_model(model, batch_size=1, capacity=7)
    with torch.no_grad():
        for chunk in (ids[:, :4], ids[:, 4:5], ids[:, 5:6], ids[:, 6:7]):
            forward_with_cache(model, chunk, cache)
            key_rows.append(cache.length)
    handle.remove()
    assert accepted(ex.check_12_2((query_rows, key_rows)))
    assert rejected(ex.check_12_2((key_rows, query_rows)), "swapped")


def test_12_3():
    assert accepted(ex.check_12_3([True, False]))
    assert rejected(ex.check_12_3([False, False]), "zero")


# 13 ---------------------------------------------------------------------------------------------------


def test_13_1():
    from gpt_from_scratch import GPTModel, count_parameters
    from gpt_from_scratch.pretrained import config_from_hf

    gpt2_config = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
                   "n_head": 12, "n_layer": 12}
    with torch.device("meta"):
        gpt2_meta = GPTModel(config_from_hf(gpt2_config))
    tied = count_parameters(gpt2_meta) - gpt2_meta.out_head.weight.numel()
    assert accepted(ex.check_13_1(tied))
    assert rejected(ex.check_13_1(124_412_160), "biases")


def test_13_2():
    from gpt_from_scratch import GPT_CONFIG_355M
    from gpt_from_scratch.pretrained import config_from_hf

    medium = config_from_hf({"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 1024,
                             "n_layer": 24, "n_head": 16})
    answer = {k for k in medium if medium[k] != GPT_CONFIG_355M[k]}
    assert accepted(ex.check_13_2(answer))
    assert rejected(ex.check_13_2(answer | {"n_heads"}), "same")


def test_13_3(tmp_path):
    from safetensors.torch import save_file

    from gpt_from_scratch import GPTModel, save_gpt2_checkpoint
    import shutil

    from gpt_from_scratch.pretrained import CONFIG_FILE, WEIGHTS_FILE, read_safetensors

    cfg = {"vocab_size": 50257, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 1,
           "drop_rate": 0.0, "qkv_bias": True}
    ckpt = save_gpt2_checkpoint(GPTModel(cfg), tmp_path / "ok")
    tensors = read_safetensors(ckpt)
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    shutil.copy(ckpt / CONFIG_FILE, bad_dir / CONFIG_FILE)
    save_file({**tensors, "h.0.mlp.c_fc.weight": tensors["h.0.mlp.c_fc.weight"].t().contiguous()},
              bad_dir / WEIGHTS_FILE)
    try:
        GPTModel.from_pretrained(bad_dir)
    except ValueError as err:
        answer = err
    assert accepted(ex.check_13_3(answer))
    assert rejected(ex.check_13_3(ValueError("config.json is missing")), "h.0.mlp.c_fc.weight")
    assert rejected(ex.check_13_3(ValueError("h.0.mlp.c_fc.weight")), "both shapes")  # typed in, not raised


# ----------------------------------------------------------------------------- notebook 10


@pytest.fixture(scope="module")
def story_model():
    from gpt_from_scratch.stories import make_stories
    from gpt_from_scratch.train import create_dataloader, encode_stories
    from gpt_from_scratch.trained import load_trained_gpt

    model, tokenizer = load_trained_gpt()
    ids = encode_stories(make_stories(20, seed=11), tokenizer)
    return model, tokenizer, create_dataloader(ids, 4, 64, 64, shuffle=False)


def test_10_1(story_model):
    model, _, loader = story_model
    x, y = next(iter(loader))
    with torch.no_grad():
        log_probs = torch.log_softmax(model(x), dim=-1)
    answer = -log_probs.gather(-1, y.unsqueeze(-1)).mean().item()
    assert accepted(ex.check_10_1(answer, model, loader, "cpu"))
    assert rejected(ex.check_10_1(-answer, model, loader, "cpu"), "sign")
    wrong_targets = -log_probs.gather(-1, x.unsqueeze(-1)).mean().item()  # the inputs instead of the targets
    assert rejected(ex.check_10_1(wrong_targets, model, loader, "cpu"), "targets")
    assert rejected(ex.check_10_1(torch.tensor(answer), model, loader, "cpu"), ".item()")


def test_10_2():
    untrained, trained = 6.6, 0.46
    assert accepted(ex.check_10_2((math.exp(untrained), math.exp(trained)), untrained, trained))
    assert rejected(ex.check_10_2((untrained, trained), untrained, trained), "math.exp")
    assert rejected(ex.check_10_2((math.exp(trained), math.exp(untrained)), untrained, trained), "order")


def test_10_3(story_model):
    from gpt_from_scratch.stories import check_story
    from gpt_from_scratch.trained import write_stories

    model, tokenizer, _ = story_model
    checks = [check_story(s) for s in write_stories(model, tokenizer, "Once upon a time", n_stories=20,
                                                    temperature=1.5, seed=1)]
    answer = sum(sum(c.grammatical) for c in checks) / sum(len(c.sentences) for c in checks)
    assert accepted(ex.check_10_3(answer, model, tokenizer))
    assert rejected(ex.check_10_3(100 * answer, model, tokenizer), "share between 0 and 1")
    cool = [check_story(s) for s in write_stories(model, tokenizer, "Once upon a time", n_stories=20,
                                                  temperature=0.8, top_k=40, seed=1)]
    cool_rate = sum(sum(c.grammatical) for c in cool) / sum(len(c.sentences) for c in cool)
    assert cool_rate != answer
    assert rejected(ex.check_10_3(cool_rate, model, tokenizer), "temperature")


def test_10_4(story_model):
    """The checker's answer, found here another way: a head is removed by zeroing its columns of out_proj's
    weight (not by a hook), and the copy rate is counted story by story on other stories than the checker's."""
    from gpt_from_scratch.stories import WORDS, make_stories

    model, tokenizer, _ = story_model
    objects = {tokenizer.encode(" " + w)[0] for w in WORDS["obj"] if len(tokenizer.encode(" " + w)) == 1}
    swapped = []  # (ids up to the object's second mention with the first one swapped, the new object)
    for r, story in enumerate(make_stories(40, seed=12)):
        ids = tokenizer.encode(story)
        mentions = [i for i, t in enumerate(ids) if t in objects and t == next(t for t in ids if t in objects)]
        if len(mentions) >= 2:
            new = sorted(objects - {ids[mentions[0]]})[r % (len(objects) - 1)]
            swapped.append((ids[:mentions[0]] + [new] + ids[mentions[0] + 1:mentions[1]], new))

    @torch.no_grad()
    def copy_rate(layer=None, head=None):
        weight = None if layer is None else model.trf_blocks[layer].att.out_proj.weight
        if weight is not None:
            kept = weight.clone()
            hd = model.trf_blocks[layer].att.head_dim
            weight[:, head * hd:(head + 1) * hd] = 0
        try:
            return sum(model(torch.tensor([ids]))[0, -1].argmax().item() == new for ids, new in swapped) / len(swapped)
        finally:
            if weight is not None:
                weight.copy_(kept)

    heads = [(l, h) for l in range(len(model.trf_blocks)) for h in range(model.trf_blocks[0].att.num_heads)]
    rates = {lh: copy_rate(*lh) for lh in heads}
    answer = min(rates, key=rates.get)
    others = [rate for lh, rate in rates.items() if lh != answer]
    assert copy_rate() > 0.9 and rates[answer] < 0.6 < min(others), (copy_rate(), rates)  # one head does it
    assert accepted(ex.check_10_4(answer, model, tokenizer))
    assert accepted(ex.check_10_4(list(answer), model, tokenizer))
    other = max(rates, key=rates.get)  # a head the model copies fine without
    assert rejected(ex.check_10_4(other, model, tokenizer), "does not need that head")
    assert rejected(ex.check_10_4((len(model.trf_blocks), 0), model, tokenizer), "not a head of this model")
    assert rejected(ex.check_10_4("3, 3", model, tokenizer), "pair of ints")
    assert rejected(ex.check_10_4((3.0, 3.0), model, tokenizer), "pair of ints")
    assert ex.check_10_4(None, model, tokenizer).status == ex.NOT_ATTEMPTED


# ----------------------------------------------------------------------------- robustness (issues 17 and 21)


def test_checkers_of_notebook_10_work_with_the_answer_alone():
    """As every other checker: check_10_k(answer). The checker rebuilds the notebook's objects itself."""
    model, tokenizer, loader, untrained, trained = ex._notebook10.__wrapped__()
    x, y = next(iter(loader))
    with torch.no_grad():
        by_hand = -torch.log_softmax(model(x), dim=-1).gather(-1, y.unsqueeze(-1)).mean().item()
    assert accepted(ex.check_10_1(by_hand))
    assert accepted(ex.check_10_2((math.exp(untrained), math.exp(trained))))
    assert untrained > math.log(tokenizer.n_vocab) - 0.5  # the untrained model is no surer than a uniform guess
    assert rejected(ex.check_10_1(by_hand + 0.5), "log_softmax")
    assert rejected(ex.check_10_2((math.exp(trained), math.exp(untrained))), "order")


def test_wrong_answers_never_show_the_right_value(story_model):
    """A learner must not be able to copy the right value out of a 'not yet' message."""
    model, tokenizer, loader = story_model
    x, y = next(iter(loader))
    from gpt_from_scratch.train import calc_loss_batch

    with torch.no_grad():
        loss = calc_loss_batch(x, y, model, "cpu").item()
    message = ex.check_10_1(loss + 0.3, model, loader, "cpu").message
    assert f"{loss:.4f}" not in message and f"{loss:.3f}" not in message
    untrained, trained = 6.6, 0.46
    message = ex.check_10_2((1.0, 2.0), untrained, trained).message
    for value in (math.exp(untrained), math.exp(trained)):
        assert f"{value:.1f}" not in message and f"{value:.3f}" not in message
    message = ex.check_10_3(0.123, model, tokenizer).message
    assert "0.1" not in message.replace("0.123", "") and "%" not in message
    w = torch.tensor([2.2], requires_grad=True)  # check_00_3: the single-pass gradient (half the answer)
    F.binary_cross_entropy(torch.sigmoid(torch.tensor([1.1]) * w), torch.tensor([1.0])).backward()
    assert f"{w.grad.item():.4f}" not in ex.check_00_3(123.0).message
    half_right = ex.check_01_1((ex._dummy_count(12), 7))  # the 48-layer count equals the 12-layer one
    assert rejected(half_right, "48") and f"{ex._dummy_count(12):,}" not in half_right.message
    from gpt_from_scratch.tokenizer import get_tokenizer

    n_tokens = len(get_tokenizer().encode("Every effort moves you forward"))
    assert str(n_tokens) not in ex.check_01_3((1, n_tokens + 3, 50257)).message


def test_a_typed_zero_is_not_a_measured_difference():
    assert rejected(ex.check_02_3(0), "compute")
    assert rejected(ex.check_02_3(0.0), "compute")  # float32's eps leaves a trace here: exactly 0 is typed
    assert rejected(ex.check_06_3(0), "block itself")


def test_pairs_of_booleans_must_be_booleans():
    for checker in (ex.check_06_2, ex.check_07_1):
        assert rejected(checker(("yes", "")), "booleans")
        assert rejected(checker((1, 0)), "booleans")
        assert accepted(checker((True, False)))
    assert accepted(ex.check_06_2((torch.tensor(True), torch.tensor(False))))
    assert rejected(ex.check_07_2(torch.tensor([0.0, 1.0])), "True or False")
    assert rejected(ex.check_12_3("TrueFalse"), "booleans")


def test_06_2_recomputes_the_truth():
    """The pair is compared with the block's own behaviour, not with a constant (False, True is wrong)."""
    truth = ex._block_causality()
    assert truth == (True, False)
    assert rejected(ex.check_06_2((False, True)))
    assert rejected(ex.check_06_2((False, False)))


def test_a_string_is_not_a_list():
    from gpt_from_scratch import GPT_CONFIG_124M, count_parameters, meta_model, parameter_breakdown

    before = parameter_breakdown(meta_model(GPT_CONFIG_124M))
    longer = {**GPT_CONFIG_124M, "context_length": 2048}
    after = parameter_breakdown(meta_model(longer))
    gain = count_parameters(meta_model(longer)) - count_parameters(meta_model(GPT_CONFIG_124M))
    [changed] = [k for k in before if before[k] != after[k]]
    assert rejected(ex.check_08_2((gain, changed)), "a list")  # the name itself, not a list of names
    assert accepted(ex.check_08_2((gain, {changed})))
    assert rejected(ex.check_11_2((5, 5)), "lists of words")
    assert rejected(ex.check_11_2(("mat", "mat")), "lists of words")
    assert rejected(ex.check_09_2(("abc", "def")), "lists of ints")
    assert rejected(ex.check_13_2("vocab_size"), "set of key names")


ODD_ANSWERS = [0, -1, 10**400, float("nan"), float("inf"), "x", "", b"1", [], [None], (5, 5), ("yes", ""),
               {"a": 1}, {1, 2}, torch.tensor([0.0, 1.0]), torch.tensor([]), torch.zeros(2, 3, dtype=torch.int64),
               torch.tensor(float("nan")), torch.empty(0, 3), object(), print, ValueError, (1, 2, 3, 4),
               ((), ()), (torch.zeros(3), torch.zeros(3)), [[1, 2], "ab"]]


@pytest.mark.parametrize("name", [n for n in CHECKERS if not n.startswith("check_10_")])
def test_every_checker_answers_odd_answers(name):
    """Any answer gets 'not yet' (or, for a right value by chance, 'correct'), never an exception."""
    for answer in ODD_ANSWERS:
        feedback = getattr(ex, name)(answer)
        assert feedback.status in (ex.NOT_YET, ex.CORRECT), (name, answer, feedback)


def test_every_checker_is_wrapped():
    """Checkers added later must come before the wrapping loop at the end of exercises.py."""
    for name in CHECKERS:
        assert hasattr(getattr(ex, name), "__wrapped__"), f"{name} is defined after the wrapping loop"


def test_checkers_of_notebook_10_answer_odd_answers(story_model):
    model, tokenizer, loader = story_model
    for answer in ODD_ANSWERS:
        for feedback in (ex.check_10_1(answer, model, loader, "cpu"), ex.check_10_2(answer, 6.6, 0.46),
                         ex.check_10_3(answer, model, tokenizer)):
            assert feedback.status == ex.NOT_YET, (answer, feedback)


# ---------- notebook 14 ----------

def test_14_1():
    assert accepted(ex.check_14_1(2 * 32 * 8 * 128 * 2))
    assert rejected(ex.check_14_1(2 * 32 * 32 * 128 * 2), "n_kv_heads")
    assert rejected(ex.check_14_1(32 * 8 * 128 * 2), "values")
    assert rejected(ex.check_14_1(2 * 32 * 8 * 128 * 4), "2 bytes")
    assert rejected(ex.check_14_1("128 KiB"), "whole number")
    assert ex.check_14_1(None).status == ex.NOT_ATTEMPTED


def test_14_2():
    assert accepted(ex.check_14_2(3 * 4096 * 14_336))
    assert rejected(ex.check_14_2(2 * 4096 * 14_336), "three")
    assert rejected(ex.check_14_2(8 * 4096 * 4096), "GELU")
    assert rejected(ex.check_14_2(3 * 4096 * 14_336 + 2 * 14_336 + 4096), "bias")


def test_14_3():
    answer = 5 * 10_000 ** (-2 / 8)  # position x theta^(-2i/d), i = 1, d = 8
    assert accepted(ex.check_14_3(answer))
    assert accepted(ex.check_14_3(torch.tensor(answer)))
    assert rejected(ex.check_14_3(math.degrees(answer)), "degrees")
    assert rejected(ex.check_14_3(5 * 10_000 ** (-1 / 8)), "exponent")
    assert rejected(ex.check_14_3(5.0), "pair 0")


# ---------- notebook 15 ----------

def test_15_1():
    assert accepted(ex.check_15_1(0.25))
    assert accepted(ex.check_15_1(torch.tensor(2 * 256 / (8 * 256))))
    assert rejected(ex.check_15_1(1 / 3), "equally")
    assert rejected(ex.check_15_1(2), "share")
    assert rejected(ex.check_15_1(4.0), "inverse")
    assert rejected(ex.check_15_1("a quarter"), "number")
    assert ex.check_15_1(None).status == ex.NOT_ATTEMPTED


def test_15_2():
    from gpt_from_scratch import GPTModel
    from gpt_from_scratch.faster import saved_activation_bytes
    from gpt_from_scratch.trained import trained_model_metadata

    cfg = {**trained_model_metadata()["config"], "use_sdpa": True}
    torch.manual_seed(5)  # other weights and windows than the checker's: the count depends on shapes only
    model = GPTModel(cfg).train()
    ids = torch.randint(0, cfg["vocab_size"], (3, cfg["context_length"]))
    one, two, three = (saved_activation_bytes(model, ids[:n], ids[:n]) for n in (1, 2, 3))
    assert accepted(ex.check_15_2(three - two))
    # Fresh token ids for each batch size: the extra window's ids (2 x 256 int64) are counted too, and accepted
    fresh = [torch.randint(0, cfg["vocab_size"], (n, cfg["context_length"])) for n in (1, 2)]
    with_ids = saved_activation_bytes(model, fresh[1], fresh[1].clone()) - saved_activation_bytes(model, fresh[0],
                                                                                                fresh[0].clone())
    assert with_ids == three - two + 2 * 2048
    assert accepted(ex.check_15_2(with_ids))
    assert rejected(ex.check_15_2(three - two + 1), "is not it")  # a near miss is not told it counted one window
    assert rejected(ex.check_15_2(one), "fixed part")
    assert rejected(ex.check_15_2(two), "difference")
    assert rejected(ex.check_15_2((two - one) / 2**20), "whole number")  # MiB as a float
    assert rejected(ex.check_15_2(round((two - one) / 2**20)), "MiB")
    assert ex.check_15_2(None).status == ex.NOT_ATTEMPTED


def test_15_3():
    # bfloat16 by its definition: 8 significant bits, so the numbers in [0.5, 1) lie 2**-8 apart and 1 - 0.001
    # (0.001 < 2**-9, half that spacing) rounds back to 1 every time; float32 keeps each step.
    assert accepted(ex.check_15_3((1.0, 1.0 - 10 * 0.001)))
    assert accepted(ex.check_15_3((torch.tensor(1.0, dtype=torch.bfloat16), torch.tensor(0.99))))
    assert rejected(ex.check_15_3((0.99, 0.99)), "exact arithmetic")
    assert rejected(ex.check_15_3((float(torch.tensor(0.99, dtype=torch.bfloat16)), 0.99)), "one at a time")
    assert rejected(ex.check_15_3((1.0, 1.0)), "float32 weight is off")
    assert rejected(ex.check_15_3(1.0), "pair")
    for feedback in (ex.check_15_3((0.99, 0.99)), ex.check_15_3((0.5, 0.99))):
        assert "1.0" not in feedback.message.replace("torch.tensor(1.0", "")  # the bfloat16 result is never given


def test_15_4():
    import math

    from safetensors import safe_open

    from gpt_from_scratch.trained import TRAINED_MODEL_FILE

    with safe_open(TRAINED_MODEL_FILE, framework="pt") as f:  # the stored tensors, not the model's parameters
        numbers = sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())
    gradient = 4 * numbers
    assert accepted(ex.check_15_4(gradient * 3 // 2))  # 2 (4 - 1)/4 = 1.5 gradients
    assert rejected(ex.check_15_4(gradient), "gradient itself")
    assert rejected(ex.check_15_4(2 * gradient), "N = 4")
    assert rejected(ex.check_15_4(numbers * 3 // 2), "bytes")
    assert rejected(ex.check_15_4(gradient * 3 // 4), "16-bit")
    assert rejected(ex.check_15_4(gradient * 3 / 2 + 0.5), "whole number")
    assert ex.check_15_4(None).status == ex.NOT_ATTEMPTED
    for wrong in (gradient, 2 * gradient, 12345):  # no wrong answer is told the right one
        assert f"{gradient * 3 // 2:,}" not in ex.check_15_4(wrong).message
        assert str(gradient * 3 // 2) not in ex.check_15_4(wrong).message
