"""Notebook 13: loading OpenAI's GPT-2 weights from a Hugging Face-format checkpoint directory.

A checkpoint directory, as published for gpt2, gpt2-medium, gpt2-large and gpt2-xl, holds
`config.json` and `model.safetensors` (or shards listed in `model.safetensors.index.json`).
It is read with the `safetensors` package only: no pickle, so loading runs no code from the file.

How the published tensors map onto GPTModel (keys may carry a `transformer.` prefix or not):

| checkpoint                       | GPTModel                                   | note                        |
| -------------------------------- | ------------------------------------------ | --------------------------- |
| wte.weight, wpe.weight           | tok_emb.weight, pos_emb.weight             |                             |
| h.N.ln_1 / ln_2 .weight / .bias  | trf_blocks.N.norm1 / norm2 .scale / .shift |                             |
| h.N.attn.c_attn.weight / .bias   | att.W_query, att.W_key, att.W_value        | [in, 3*out]: split, transpose |
| h.N.attn.c_proj                  | att.out_proj                               | Conv1D [in, out]: transpose |
| h.N.mlp.c_fc, h.N.mlp.c_proj     | ff.layers[0], ff.layers[2]                 | Conv1D [in, out]: transpose |
| ln_f.weight / .bias              | final_norm.scale / .shift                  |                             |
| lm_head.weight (often absent)    | out_head.weight                            | absent: a copy of wte       |

`h.N.attn.bias` and `h.N.attn.masked_bias` are buffers of the original code (its causal mask), not
weights; they are ignored. GPT-2 uses biases in the query/key/value projections, so the config has
qkv_bias=True; drop_rate is 0.0 because the loaded model is meant for inference.

Memory layout: the nn.Linear weights of a loaded model have the shape nn.Linear expects,
[out, in], but are stored like the checkpoint's Conv1D weights, [in, out] row by row: each weight
is the transposed *view* of a contiguous [in, out] tensor (`weight.t().is_contiguous()` is True).
The values are the same; only the order in memory differs. It is the layout the CPU matrix-vector
kernels read fastest when one token at a time is generated (see benchmarks/README.md).
Every tensor is copied out of the memory-mapped file, so the model does not change if the file does. The output head gets the same layout.
A few tools want contiguous tensors (e.g. safetensors.torch.save_file): pass them
`{k: v.contiguous() for k, v in model.state_dict().items()}`.

Writing is the inverse: `save_gpt2_checkpoint(model, directory)` writes a GPTModel as config.json and
model.safetensors in the layout `GPT2LMHeadModel.save_pretrained` uses (keys with the `transformer.`
prefix, Conv1D [in, out] weights, query | key | value in one c_attn, float32). The head is written as
`lm_head.weight` (with tie_word_embeddings false) only when it differs from the token embedding;
a head equal to it is left out, as in GPT-2's own files. GPT-2's format always has query/key/value
biases, so a model built with qkv_bias=False is written with zero biases: the outputs are the same,
and it loads back as a qkv_bias=True model.
"""

import json
import os
from pathlib import Path

import torch

from .checks import check_context_length, check_conversion_args, check_weight
from .config import validate_config
from .device import get_device
from .model import GPTModel  # model.py imports this module only inside GPTModel.from_pretrained, so no cycle

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text, so it cannot be a JSON file: {err}") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err


def _int_field(hf_config, key, path):
    if key not in hf_config:
        raise ValueError(f"{path} lacks '{key}'")
    value = hf_config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{path}: '{key}' must be a positive int, got {value!r}")
    return value


def config_from_hf(hf_config, path=CONFIG_FILE):
    """Our cfg dict from a GPT-2 config.json dict; a ValueError for settings GPTModel does not implement."""
    if not isinstance(hf_config, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(hf_config).__name__}")
    model_type = hf_config.get("model_type", "gpt2")
    if model_type != "gpt2":
        raise ValueError(f"{path}: model_type is {model_type!r}, only 'gpt2' checkpoints can be loaded")
    cfg = {
        "vocab_size": _int_field(hf_config, "vocab_size", path),
        "context_length": _int_field(hf_config, "n_positions", path),
        "emb_dim": _int_field(hf_config, "n_embd", path),
        "n_heads": _int_field(hf_config, "n_head", path),
        "n_layers": _int_field(hf_config, "n_layer", path),
        "drop_rate": 0.0,   # inference: no dropout
        "qkv_bias": True,   # GPT-2's c_attn has a bias
    }
    activation = hf_config.get("activation_function", "gelu_new")
    if activation != "gelu_new":
        raise ValueError(
            f"{path}: activation_function is {activation!r}, but GPTModel's GELU is the tanh approximation "
            "'gelu_new'"
        )
    eps = hf_config.get("layer_norm_epsilon", 1e-5)
    if eps != 1e-5:
        raise ValueError(f"{path}: layer_norm_epsilon is {eps!r}, but GPTModel's LayerNorm uses 1e-5")
    n_inner = hf_config.get("n_inner")
    if n_inner is not None and n_inner != 4 * cfg["emb_dim"]:
        raise ValueError(f"{path}: n_inner is {n_inner}, but GPTModel's feed-forward width is 4 * n_embd")
    for key, expected in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                          ("add_cross_attention", False)):
        if hf_config.get(key, expected) != expected:
            raise ValueError(f"{path}: {key}={hf_config[key]!r} is not supported (GPTModel assumes {expected})")
    if cfg["emb_dim"] % cfg["n_heads"] != 0:
        raise ValueError(f"{path}: n_embd ({cfg['emb_dim']}) is not divisible by n_head ({cfg['n_heads']})")
    check_context_length(cfg["context_length"], f"{path}: n_positions")  # before any mask is allocated
    try:
        validate_config(cfg)  # e.g. the masks of all layers together, before the weights are read
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    tie = hf_config.get("tie_word_embeddings", True)
    if not isinstance(tie, bool):
        raise ValueError(f"{path}: tie_word_embeddings must be true or false (a JSON boolean), got {tie!r}")
    return cfg


def _check_directory(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a checkpoint directory, got {type(path).__name__}")
    directory = Path(path)
    if not directory.exists():
        raise FileNotFoundError(f"checkpoint directory {directory} does not exist")
    if not directory.is_dir():
        raise ValueError(f"{directory} is a file; give the checkpoint directory holding {CONFIG_FILE} and {WEIGHTS_FILE}")
    if not (directory / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{directory} has no {CONFIG_FILE}")
    return directory


def _weight_files(directory):
    single = directory / WEIGHTS_FILE
    if single.is_file():
        return [single]
    index = directory / INDEX_FILE
    if index.is_file():
        content = _load_json(index)
        weight_map = content.get("weight_map") if isinstance(content, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ValueError(f"{index} has no 'weight_map' (a JSON object mapping tensor names to shard files)")
        for name in weight_map.values():
            # Shards sit next to the index: a path (../x, /abs/x, sub/x) would read outside the checkpoint.
            if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name or "\\" in name:
                raise ValueError(f"{index}: shard {name!r} must be a plain file name in {directory}")
        files = [directory / name for name in sorted(set(weight_map.values()))]
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"shard {f.name} listed in {index.name} is missing from {directory}")
        return files
    hint = ""
    if (directory / "pytorch_model.bin").exists():
        hint = " (pytorch_model.bin is a pickle file and is not read; download model.safetensors instead)"
    raise FileNotFoundError(f"{directory} has no {WEIGHTS_FILE}{hint}")


def read_safetensors(directory, device="cpu"):
    """All tensors of the checkpoint in `directory`, keys without the 'transformer.' prefix."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors, source = {}, {}
    for file in _weight_files(Path(directory)):
        try:
            loaded = load_file(file, device=str(device))
        except SafetensorError as err:
            raise ValueError(f"{file} is not a readable safetensors file: {err}") from err
        for key, value in loaded.items():
            name = key.removeprefix("transformer.")
            if name in tensors:  # which copy is right? refuse rather than keep the later one
                raise ValueError(
                    f"the checkpoint holds tensor '{name}' twice (as '{source[name][0]}' in {source[name][1]} "
                    f"and as '{key}' in {file.name}); remove one of them"
                )
            tensors[name], source[name] = value, (key, file.name)
    return tensors


def _take(tensors, key, shape):
    if key not in tensors:
        raise ValueError(f"the checkpoint lacks tensor '{key}' (expected shape {list(shape)})")
    value = tensors.pop(key)
    check_weight(key, value, shape)
    return value


def _owned(t):
    """A float32, contiguous copy of `t` that owns its memory.

    safetensors maps the file into memory; a tensor it returns can change if the file is later
    overwritten in place. Every weight of the model is therefore copied exactly once.
    """
    return t.to(torch.float32, memory_format=torch.contiguous_format, copy=True)


def _as_linear_weight(in_out):
    """An nn.Linear weight [out, in] from a Conv1D-style [in, out] tensor, kept in [in, out] memory order."""
    return _owned(in_out).t()


def convert_gpt2_state_dict(tensors, cfg, tie_word_embeddings=True):
    """GPTModel's state dict (float32, causal masks included) from GPT-2 checkpoint tensors."""
    check_conversion_args(tensors, cfg, tie_word_embeddings)
    tensors = {k: v for k, v in tensors.items() if not k.endswith(IGNORED_SUFFIXES)}
    d, n_vocab, n_ctx = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]
    wte = _take(tensors, "wte.weight", (n_vocab, d))
    sd = {"tok_emb.weight": _owned(wte), "pos_emb.weight": _owned(_take(tensors, "wpe.weight", (n_ctx, d)))}
    device = wte.device
    for i in range(cfg["n_layers"]):
        src, dst = f"h.{i}.", f"trf_blocks.{i}."
        for ln, norm in (("ln_1", "norm1"), ("ln_2", "norm2")):
            sd[f"{dst}{norm}.scale"] = _owned(_take(tensors, f"{src}{ln}.weight", (d,)))
            sd[f"{dst}{norm}.shift"] = _owned(_take(tensors, f"{src}{ln}.bias", (d,)))
        # Conv1D stores [in, out]; nn.Linear wants [out, in]. c_attn holds query | key | value side by side.
        qkv_w = _take(tensors, f"{src}attn.c_attn.weight", (d, 3 * d))
        qkv_b = _take(tensors, f"{src}attn.c_attn.bias", (3 * d,))
        for name, w, b in zip(("W_query", "W_key", "W_value"), qkv_w.split(d, dim=1), qkv_b.split(d)):
            sd[f"{dst}att.{name}.weight"] = _as_linear_weight(w)
            sd[f"{dst}att.{name}.bias"] = _owned(b)
        sd[f"{dst}att.out_proj.weight"] = _as_linear_weight(_take(tensors, f"{src}attn.c_proj.weight", (d, d)))
        sd[f"{dst}att.out_proj.bias"] = _owned(_take(tensors, f"{src}attn.c_proj.bias", (d,)))
        sd[f"{dst}att.mask"] = torch.triu(torch.ones(n_ctx, n_ctx, dtype=torch.bool, device=device), diagonal=1)
        sd[f"{dst}ff.layers.0.weight"] = _as_linear_weight(_take(tensors, f"{src}mlp.c_fc.weight", (d, 4 * d)))
        sd[f"{dst}ff.layers.0.bias"] = _owned(_take(tensors, f"{src}mlp.c_fc.bias", (4 * d,)))
        sd[f"{dst}ff.layers.2.weight"] = _as_linear_weight(_take(tensors, f"{src}mlp.c_proj.weight", (4 * d, d)))
        sd[f"{dst}ff.layers.2.bias"] = _owned(_take(tensors, f"{src}mlp.c_proj.bias", (d,)))
    sd["final_norm.scale"] = _owned(_take(tensors, "ln_f.weight", (d,)))
    sd["final_norm.shift"] = _owned(_take(tensors, "ln_f.bias", (d,)))
    if "lm_head.weight" in tensors:
        sd["out_head.weight"] = _as_linear_weight(_take(tensors, "lm_head.weight", (n_vocab, d)).t())
    elif tie_word_embeddings:
        # GPT-2 ties the head to the token embedding; ours is a copy, in [emb_dim, vocab] memory order.
        sd["out_head.weight"] = _as_linear_weight(wte.t())
    else:
        raise ValueError("the checkpoint lacks tensor 'lm_head.weight' and its config unties it from wte")
    if tensors:
        raise ValueError(f"the checkpoint holds tensors GPTModel has no place for: {', '.join(sorted(tensors))}")
    return sd


def load_gpt2(path, device=None):
    """A GPTModel (eval mode) with the weights of the GPT-2 checkpoint directory `path`, on `device` (default CPU).

    The model is built on the meta device (no memory, no random initialization) and the converted
    tensors are assigned to it, so loading costs one read and one copy of every tensor in the file
    (plus a second copy of the token embedding for the output head).
    """
    directory = _check_directory(path)
    device = torch.device("cpu") if device is None else get_device(device)
    hf_config = _load_json(directory / CONFIG_FILE)
    cfg = config_from_hf(hf_config, directory / CONFIG_FILE)
    tensors = read_safetensors(directory, device)
    state_dict = convert_gpt2_state_dict(tensors, cfg, hf_config.get("tie_word_embeddings", True))
    with torch.device("meta"):
        model = GPTModel(cfg)
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval()


def gpt2_tensors_from_model(model):
    """GPT-2 checkpoint tensors (names without prefix, float32) of a GPTModel; inverse of convert_gpt2_state_dict."""
    if not isinstance(model, GPTModel):
        raise TypeError(f"model must be a GPTModel, got {type(model).__name__}")
    if any(t.is_meta for t in model.state_dict().values()):
        raise ValueError("model is on the meta device: it has shapes but no weights to save")
    sd = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items() if not k.endswith(".att.mask")}
    d = sd["tok_emb.weight"].shape[1]
    tensors = {"wte.weight": sd["tok_emb.weight"], "wpe.weight": sd["pos_emb.weight"]}
    for i in range(len(model.trf_blocks)):
        src, dst = f"trf_blocks.{i}.", f"h.{i}."
        for ln, norm in (("ln_1", "norm1"), ("ln_2", "norm2")):
            tensors[f"{dst}{ln}.weight"] = sd[f"{src}{norm}.scale"]
            tensors[f"{dst}{ln}.bias"] = sd[f"{src}{norm}.shift"]
        # nn.Linear [out, in] -> Conv1D [in, out]; query | key | value side by side in one c_attn.
        qkv = [f"{src}att.{name}" for name in ("W_query", "W_key", "W_value")]
        tensors[f"{dst}attn.c_attn.weight"] = torch.cat([sd[f"{n}.weight"].t() for n in qkv], dim=1)
        # GPT-2's format always has these biases; a model built with qkv_bias=False gets zeros, which add nothing.
        tensors[f"{dst}attn.c_attn.bias"] = torch.cat([sd.get(f"{n}.bias", torch.zeros(d)) for n in qkv])
        for conv, linear in (("attn.c_proj", "att.out_proj"), ("mlp.c_fc", "ff.layers.0"),
                             ("mlp.c_proj", "ff.layers.2")):
            tensors[f"{dst}{conv}.weight"] = sd[f"{src}{linear}.weight"].t()
            tensors[f"{dst}{conv}.bias"] = sd[f"{src}{linear}.bias"]
    tensors["ln_f.weight"], tensors["ln_f.bias"] = sd["final_norm.scale"], sd["final_norm.shift"]
    if not torch.equal(sd["out_head.weight"], sd["tok_emb.weight"]):
        tensors["lm_head.weight"] = sd["out_head.weight"]  # untied: the head needs its own tensor
    return {name: _owned(t) for name, t in tensors.items()}  # one contiguous copy each, as safetensors needs


def _check_save_args(model, directory):
    """A GPTModel with finite weights, and a directory that is named, not a file and holds no checkpoint yet."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
    if str(directory).strip() == "":
        raise ValueError("directory is empty; name the checkpoint's directory, e.g. 'my_checkpoint'")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file; give a directory for {CONFIG_FILE} and {WEIGHTS_FILE}")
    existing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, INDEX_FILE) if os.path.lexists(directory / name)]
    if existing:
        raise FileExistsError(f"{directory} already holds {', '.join(existing)}; choose an empty directory")
    if isinstance(model, GPTModel):
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point and not value.is_meta and not bool(torch.isfinite(value).all()):
                raise ValueError(f"model's '{name}' holds NaN or infinite values: such a checkpoint could not be "
                                 "loaded again (training diverged?)")


def _write_checkpoint(directory, config, tensors):
    """Write config.json and model.safetensors so that a failure (full disk, Ctrl-C) leaves no half checkpoint.

    Both files are written into a hidden directory next to `directory` and then moved in: by one rename
    when `directory` is new or empty, else file by file with config.json last.
    """
    import shutil
    import tempfile

    from safetensors import SafetensorError
    from safetensors.torch import save_file

    directory = Path(directory)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    except OSError as err:
        raise OSError(f"cannot write a checkpoint in {directory.parent}: {err.strerror or err}") from err
    try:
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        save_file(tensors, staging / WEIGHTS_FILE, metadata={"format": "pt"})  # the metadata transformers expects
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        if not directory.exists():
            os.replace(staging, directory)
        else:  # a directory with other files: move ours in, the file that marks a checkpoint last
            for name in (WEIGHTS_FILE, CONFIG_FILE):
                os.replace(staging / name, directory / name)
    except (OSError, SafetensorError) as err:
        raise OSError(f"could not write the checkpoint into {directory} (disk full or read-only?): "
                      f"{getattr(err, 'strerror', None) or err}; no checkpoint was left there") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def save_gpt2_checkpoint(model, directory):
    """Write `model` (a GPTModel) into `directory` as config.json + model.safetensors; return the directory (a Path).

    GPTModel.from_pretrained and transformers' GPT2LMHeadModel.from_pretrained both load the result.
    The directory is created if needed; one that already holds a checkpoint is refused, never overwritten.
    A model with NaN or infinite weights is refused, and a failed write leaves no half checkpoint behind.
    """
    _check_save_args(model, directory)
    tensors = gpt2_tensors_from_model(model)
    n_positions, n_embd = tensors["wpe.weight"].shape
    dropout = model.drop_emb.p
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": model.tok_emb.num_embeddings,
        "n_positions": n_positions,
        "n_embd": n_embd,
        "n_layer": len(model.trf_blocks),
        "n_head": model.trf_blocks[0].att.num_heads,
        "activation_function": "gelu_new",  # GPTModel's GELU is the tanh approximation
        "layer_norm_epsilon": 1e-5,
        "resid_pdrop": dropout, "embd_pdrop": dropout, "attn_pdrop": dropout,
        "tie_word_embeddings": "lm_head.weight" not in tensors,
    }
    prefixed = {(k if k == "lm_head.weight" else "transformer." + k): v for k, v in tensors.items()}
    return _write_checkpoint(directory, config, prefixed)
