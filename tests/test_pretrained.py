"""GPTModel.from_pretrained: parity with Hugging Face transformers' GPT2LMHeadModel, and every loader error;
save_gpt2_checkpoint: the exact inverse of the loader, and a checkpoint transformers loads with the same logits.

All checkpoints are random models built here: GPT2LMHeadModels written with save_pretrained (safetensors),
or GPTModels written with save_gpt2_checkpoint. Nothing is downloaded (HF_HUB_OFFLINE=1).
"""

import json
import os
import shutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from safetensors.torch import load_file, save_file

from gpt_from_scratch import GPTModel, generate, generate_text_simple
from gpt_from_scratch.pretrained import gpt2_tensors_from_model, save_gpt2_checkpoint

import transformers  # noqa: E402  (requirements-dev.txt; a missing install must fail, not skip)
transformers.logging.set_verbosity_error()

SMALL = dict(n_embd=64, n_layer=2, n_head=4, n_positions=32, vocab_size=1000)
# No dropout; no end-of-text token, so transformers' generate always runs max_new_tokens steps.
NO_DROPOUT = dict(activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                  bos_token_id=None, eos_token_id=None)


def build_hf(tmp_path_factory, name, seed, **config):
    torch.manual_seed(seed)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**NO_DROPOUT, **config)).eval()
    path = tmp_path_factory.mktemp(name)
    hf.save_pretrained(path)  # safetensors by default
    return hf, path


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory):
    return build_hf(tmp_path_factory, "gpt2_small_random", 0, **SMALL)


@pytest.fixture(scope="session")
def full_checkpoint(tmp_path_factory):
    """A random GPT-2 124M (the real architecture and sizes), built and saved once per session."""
    return build_hf(tmp_path_factory, "gpt2_124m_random", 1)


@pytest.fixture(scope="session")
def full_ours(full_checkpoint):
    return GPTModel.from_pretrained(full_checkpoint[1])


def hf_greedy(hf, prompt, steps):
    out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=steps,
                      pad_token_id=0)
    assert out.shape[1] == prompt.shape[1] + steps
    return out


def check_parity(hf, ours, prompt, batch, also_simple=False, uncached_steps=30):
    """Logits within 1e-4, and 30 greedy tokens equal to transformers' with the KV cache; without it,
    `uncached_steps` (every step recomputes the whole sequence: the 124M test checks a few, the small one all)."""
    with torch.no_grad():
        expected = hf(batch).logits
        got = ours(batch)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= 1e-4
    steps = 30
    reference = hf_greedy(hf, prompt, steps)
    assert torch.equal(generate(ours, prompt, steps, use_cache=True), reference)
    uncached = reference[:, :prompt.shape[1] + uncached_steps]
    assert torch.equal(generate(ours, prompt, uncached_steps, use_cache=False), uncached)
    if also_simple:
        assert torch.equal(generate_text_simple(ours, prompt, steps, ours.pos_emb.num_embeddings), reference)


# ---------- parity ----------

def test_small_model_parity(small_checkpoint):
    hf, path = small_checkpoint
    ours = GPTModel.from_pretrained(path)
    g = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 1000, (3, 32), generator=g)
    prompt = torch.randint(0, 1000, (2, 2), generator=g)  # 2 + 30 new tokens = n_positions
    check_parity(hf, ours, prompt, batch, also_simple=True)


def test_small_model_parity_with_eager_attention(small_checkpoint, tmp_path):
    _, path = small_checkpoint
    hf = transformers.GPT2LMHeadModel.from_pretrained(path, attn_implementation="eager").eval()
    ours = GPTModel.from_pretrained(path)
    batch = torch.randint(0, 1000, (2, 17), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (ours(batch) - hf(batch).logits).abs().max().item() <= 1e-4


def test_gpt2_124m_parity(full_checkpoint, full_ours):
    hf, _ = full_checkpoint
    g = torch.Generator().manual_seed(2)
    batch = torch.randint(0, 50257, (2, 24), generator=g)
    prompt = torch.tensor([[15496, 11, 314, 716, 257]])  # "Hello, I am a"
    check_parity(hf, full_ours, prompt, batch, uncached_steps=8)


def test_loaded_model_is_complete(full_checkpoint, full_ours):
    hf, _ = full_checkpoint
    model = full_ours
    assert not model.training
    tensors = list(model.parameters()) + list(model.buffers())
    assert all(t.device.type == "cpu" and not t.is_meta for t in tensors)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    mask = torch.triu(torch.ones(1024, 1024, dtype=torch.bool), diagonal=1)
    assert all(torch.equal(block.att.mask, mask) for block in model.trf_blocks)
    # The head is a copy of the token embedding (tied in GPT-2), not the same storage.
    assert torch.equal(model.out_head.weight, model.tok_emb.weight)
    assert model.out_head.weight.data_ptr() != model.tok_emb.weight.data_ptr()
    assert torch.equal(model.tok_emb.weight, hf.transformer.wte.weight)
    att = model.trf_blocks[3].att
    c_attn = hf.transformer.h[3].attn.c_attn
    assert torch.equal(att.W_key.weight, c_attn.weight[:, 768:1536].t())
    assert torch.equal(att.W_value.bias, c_attn.bias[1536:])
    assert torch.equal(model.trf_blocks[3].ff.layers[2].weight, hf.transformer.h[3].mlp.c_proj.weight.t())
    # Linear weights keep the checkpoint's [in, out] memory order (a transposed view), the head too.
    assert all(m.weight.t().is_contiguous() for m in model.modules() if isinstance(m, torch.nn.Linear))


# ---------- checkpoint variants that must load ----------

def copy_checkpoint(src, dst, edit_tensors=None, edit_config=None):
    """Write a (modified) copy of checkpoint `src` into the new directory `dst`."""
    dst.mkdir(parents=True, exist_ok=True)
    config = json.loads((src / "config.json").read_text())
    if edit_config:
        config = edit_config(config)
    (dst / "config.json").write_text(json.dumps(config))
    tensors = load_file(src / "model.safetensors")
    if edit_tensors:
        tensors = edit_tensors(tensors)
    if tensors is not None:
        save_file(tensors, dst / "model.safetensors")
    return dst


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_published_layout_without_prefix_and_with_mask_buffers(small_checkpoint, tmp_path):
    """openai-community/gpt2's file has keys like 'h.0.attn.c_attn.weight' and the attn.bias buffers."""
    def published(tensors):
        out = {k.removeprefix("transformer."): v for k, v in tensors.items()}
        for i in range(2):
            out[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 32, 32))
            out[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
        return out

    path = copy_checkpoint(small_checkpoint[1], tmp_path / "published", published)
    assert same_weights(GPTModel.from_pretrained(path), GPTModel.from_pretrained(small_checkpoint[1]))


def test_untied_lm_head_is_used(small_checkpoint, tmp_path):
    head = torch.randn(1000, 64, generator=torch.Generator().manual_seed(3))
    path = copy_checkpoint(small_checkpoint[1], tmp_path / "untied", lambda t: {**t, "lm_head.weight": head},
                           lambda c: {**c, "tie_word_embeddings": False})
    assert torch.equal(GPTModel.from_pretrained(path).out_head.weight, head)


def test_float16_checkpoint_loads_as_float32(small_checkpoint, tmp_path):
    path = copy_checkpoint(small_checkpoint[1], tmp_path / "half", lambda t: {k: v.half() for k, v in t.items()})
    model = GPTModel.from_pretrained(path)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_sharded_checkpoint(small_checkpoint, tmp_path):
    src = small_checkpoint[1]
    dst = copy_checkpoint(src, tmp_path / "sharded", lambda t: None)
    tensors = load_file(src / "model.safetensors")
    keys = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for name, names in shards.items():
        save_file({k: tensors[k] for k in names}, dst / name)
    weight_map = {k: name for name, names in shards.items() for k in names}
    (dst / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    assert same_weights(GPTModel.from_pretrained(dst), GPTModel.from_pretrained(src))


def test_model_owns_its_memory(small_checkpoint, tmp_path):
    """safetensors maps the file into memory; overwriting the file in place must not change the model."""
    path = copy_checkpoint(small_checkpoint[1], tmp_path / "mutable")
    model = GPTModel.from_pretrained(path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with open(path / "model.safetensors", "r+b") as f:
        header = int.from_bytes(f.read(8), "little")
        f.seek(8 + header)
        f.write(b"\x00" * (os.path.getsize(path / "model.safetensors") - 8 - header))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_device_argument(small_checkpoint):
    model = GPTModel.from_pretrained(str(small_checkpoint[1]), device="cpu")
    assert model.tok_emb.weight.device.type == "cpu"
    with pytest.raises(ValueError, match="device"):
        GPTModel.from_pretrained(small_checkpoint[1], device="tpu")


# ---------- errors ----------

def drop(key):
    return lambda t: {k: v for k, v in t.items() if k != key}


def replace(key, value):
    return lambda t: {**t, key: value}


@pytest.mark.parametrize(
    "edit_tensors,edit_config,words",
    [
        (drop("transformer.h.1.mlp.c_fc.bias"), None, r"lacks tensor 'h\.1\.mlp\.c_fc\.bias'"),
        (drop("transformer.ln_f.weight"), None, r"'ln_f\.weight'"),
        (replace("transformer.h.0.attn.c_attn.weight", torch.zeros(64, 64)), None,
         r"'h\.0\.attn\.c_attn\.weight' has shape \[64, 64\], expected \[64, 192\]"),
        (None, lambda c: {**c, "n_positions": 64}, r"'wpe\.weight' has shape \[32, 64\], expected \[64, 64\]"),
        (None, lambda c: {**c, "n_layer": 3}, r"lacks tensor 'h\.2\.ln_1\.weight'"),
        (replace("transformer.h.0.attn.q_attn.weight", torch.zeros(2)), None, r"no place for: h\.0\.attn\.q_attn"),
        (None, lambda c: {**c, "activation_function": "relu"}, "activation_function"),
        (None, lambda c: {**c, "layer_norm_epsilon": 1e-6}, "layer_norm_epsilon"),
        (None, lambda c: {**c, "n_inner": 100}, "n_inner"),
        (None, lambda c: {**c, "scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
        (None, lambda c: {**c, "model_type": "llama"}, "model_type"),
        (None, lambda c: {k: v for k, v in c.items() if k != "n_embd"}, "n_embd"),
        (None, lambda c: {**c, "n_head": 0}, "n_head"),
        (None, lambda c: {**c, "n_head": 5}, "divisible"),
        (None, lambda c: {**c, "tie_word_embeddings": False}, r"lacks tensor 'lm_head\.weight'"),
    ],
)
def test_bad_checkpoints_name_the_problem(small_checkpoint, tmp_path, edit_tensors, edit_config, words):
    path = copy_checkpoint(small_checkpoint[1], tmp_path / "bad", edit_tensors, edit_config)
    with pytest.raises(ValueError, match=words):
        GPTModel.from_pretrained(path)


def test_missing_files(small_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GPTModel.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="is a file"):
        GPTModel.from_pretrained(small_checkpoint[1] / "config.json")
    no_config = tmp_path / "no_config"
    no_config.mkdir()
    shutil.copy(small_checkpoint[1] / "model.safetensors", no_config)
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPTModel.from_pretrained(no_config)
    no_weights = copy_checkpoint(small_checkpoint[1], tmp_path / "no_weights", lambda t: None)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        GPTModel.from_pretrained(no_weights)
    (no_weights / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(FileNotFoundError, match="pickle"):
        GPTModel.from_pretrained(no_weights)
    (no_weights / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"wte.weight": "a.safetensors"}}))
    with pytest.raises(FileNotFoundError, match="a.safetensors"):
        GPTModel.from_pretrained(no_weights)


def test_unreadable_files(small_checkpoint, tmp_path):
    bad_json = copy_checkpoint(small_checkpoint[1], tmp_path / "bad_json")
    (bad_json / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        GPTModel.from_pretrained(bad_json)
    bad_weights = copy_checkpoint(small_checkpoint[1], tmp_path / "bad_weights", lambda t: None)
    (bad_weights / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="safetensors"):
        GPTModel.from_pretrained(bad_weights)
    with pytest.raises(TypeError, match="path"):
        GPTModel.from_pretrained(42)


# ---------- writing checkpoints: save_gpt2_checkpoint, the inverse of the loader ----------

OURS_SMALL = {"vocab_size": 1000, "context_length": 32, "emb_dim": 64, "n_heads": 4, "n_layers": 2,
              "drop_rate": 0.1, "qkv_bias": True}


def ours_small(seed=0, tied=False, **changes):
    torch.manual_seed(seed)
    model = GPTModel({**OURS_SMALL, **changes}).eval()
    if tied:
        with torch.no_grad():
            model.out_head.weight.copy_(model.tok_emb.weight)
    return model


BATCH = torch.randint(0, 1000, (3, 32), generator=torch.Generator().manual_seed(4))
PROMPT = torch.randint(0, 1000, (2, 2), generator=torch.Generator().manual_seed(5))  # 2 + 30 tokens = context


def max_logit_diff(a, b):
    with torch.no_grad():
        return (a(BATCH) - b(BATCH)).abs().max().item()


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_round_trip_gives_the_same_model(tmp_path, tied):
    model = ours_small(tied=tied)
    assert save_gpt2_checkpoint(model, tmp_path / "ckpt") == tmp_path / "ckpt"
    loaded = GPTModel.from_pretrained(tmp_path / "ckpt")
    assert same_weights(loaded, model)
    assert max_logit_diff(loaded, model) <= 1e-5
    assert torch.equal(generate(loaded, PROMPT, 30), generate(model, PROMPT, 30))


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_written_checkpoint_has_gpt2_names_layouts_and_config(tmp_path, tied):
    model = ours_small(tied=tied)
    save_gpt2_checkpoint(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 1000, "n_positions": 32,
        "n_embd": 64, "n_layer": 2, "n_head": 4, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "tie_word_embeddings": tied,
    }
    tensors = load_file(tmp_path / "model.safetensors")
    assert ("lm_head.weight" in tensors) == (not tied)
    assert all(k.startswith("transformer.") for k in tensors if k != "lm_head.weight")
    assert len(tensors) == 4 + 12 * 2 + (0 if tied else 1)
    assert all(t.dtype == torch.float32 and t.is_contiguous() for t in tensors.values())
    att, ff = model.trf_blocks[1].att, model.trf_blocks[1].ff
    c_attn = tensors["transformer.h.1.attn.c_attn.weight"]
    assert c_attn.shape == (64, 192)
    assert torch.equal(c_attn, torch.cat([att.W_query.weight.t(), att.W_key.weight.t(), att.W_value.weight.t()], 1))
    assert torch.equal(tensors["transformer.h.1.attn.c_attn.bias"][64:128], att.W_key.bias)
    assert torch.equal(tensors["transformer.h.1.mlp.c_fc.weight"], ff.layers[0].weight.t())
    assert torch.equal(tensors["transformer.h.1.ln_2.bias"], model.trf_blocks[1].norm2.shift)


def test_writer_is_the_exact_inverse_of_the_loader(small_checkpoint, tmp_path):
    """transformers' save_pretrained -> from_pretrained -> save_gpt2_checkpoint gives the same tensors back."""
    _, path = small_checkpoint
    save_gpt2_checkpoint(GPTModel.from_pretrained(path), tmp_path)
    original, ours = load_file(path / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert original.keys() == ours.keys()
    assert all(torch.equal(original[k], ours[k]) for k in original)


def test_writer_is_the_exact_inverse_for_gpt2_124m(full_checkpoint, full_ours, tmp_path):
    _, path = full_checkpoint
    save_gpt2_checkpoint(full_ours, tmp_path)
    original, ours = load_file(path / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert original.keys() == ours.keys()  # GPT-2's tied head: no lm_head.weight
    assert all(torch.equal(original[k], ours[k]) for k in original)
    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["n_embd"], config["n_layer"], config["n_head"], config["n_positions"]) == (768, 12, 12, 1024)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_transformers_loads_what_we_write(tmp_path, tied):
    model = ours_small(tied=tied)
    save_gpt2_checkpoint(model, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    assert hf.config.tie_word_embeddings == tied
    assert torch.equal(hf.lm_head.weight, model.out_head.weight)
    check_parity(hf, model, PROMPT, BATCH)


def test_model_without_qkv_bias_is_written_with_zero_biases(tmp_path):
    model = ours_small(qkv_bias=False)
    save_gpt2_checkpoint(model, tmp_path)
    written = load_file(tmp_path / "model.safetensors")
    assert torch.equal(written["transformer.h.0.attn.c_attn.bias"], torch.zeros(192))
    loaded = GPTModel.from_pretrained(tmp_path)
    assert all(torch.equal(b.att.W_value.bias, torch.zeros(64)) for b in loaded.trf_blocks)
    assert max_logit_diff(loaded, model) <= 1e-5
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    check_parity(hf, model, PROMPT, BATCH)


def test_writer_reads_the_model_without_changing_it(tmp_path):
    model = ours_small().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tensors = gpt2_tensors_from_model(model)
    save_gpt2_checkpoint(model, tmp_path)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    tensors["wte.weight"].zero_()  # the returned tensors are copies, not views of the model's weights
    assert torch.equal(model.tok_emb.weight, before["tok_emb.weight"])


def test_writer_rejects_bad_inputs(small_checkpoint, tmp_path):
    model = ours_small()
    with pytest.raises(TypeError, match="GPTModel"):
        save_gpt2_checkpoint(model.state_dict(), tmp_path / "a")
    with pytest.raises(TypeError, match="GPTModel"):
        save_gpt2_checkpoint(transformers.GPT2LMHeadModel.from_pretrained(small_checkpoint[1]), tmp_path / "b")
    with pytest.raises(TypeError, match="directory"):
        save_gpt2_checkpoint(model, 42)
    with torch.device("meta"):
        meta = GPTModel(OURS_SMALL)
    with pytest.raises(ValueError, match="meta"):
        save_gpt2_checkpoint(meta, tmp_path / "c")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        save_gpt2_checkpoint(model, tmp_path / "file.txt")
    with pytest.raises(FileExistsError, match="already holds config.json, model.safetensors"):
        save_gpt2_checkpoint(model, small_checkpoint[1])
    assert not any((tmp_path / name).exists() for name in "abc")  # nothing written by a refused call
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("kept")
    save_gpt2_checkpoint(model, str(tmp_path / "other"))  # an existing directory without a checkpoint is fine
    assert (tmp_path / "other" / "notes.txt").read_text() == "kept"
    save_gpt2_checkpoint(model, tmp_path / "new" / "nested")  # missing parents are created
    assert same_weights(GPTModel.from_pretrained(tmp_path / "new" / "nested"), model)
