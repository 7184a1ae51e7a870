"""The small GPT this series trains on its own stories, shipped inside the package.

`load_trained_gpt()` returns `(model, tokenizer)`: a GPTModel in eval mode that has learned the
children's stories of `stories.py`, and the StoryTokenizer it reads. It loads offline, from a
safetensors file of a few MiB in `gpt_from_scratch/data/` (no pickle: loading runs no code).

The file is written by `tools/train_story_model.py` with the training code of notebook 10. Its
metadata records everything needed to check it: the model config, the tokenizer's vocabulary (as
GPT-2 token ids), how the corpus was generated and split, the training settings and the final
validation loss. `tests/test_trained.py` recomputes that loss from the weights and a regenerated corpus.
"""

import hashlib
import json
import os
from pathlib import Path

import torch

from .config import validate_config
from .device import get_device
from .model import GPTModel
from .train import StoryTokenizer

TRAINED_MODEL_FILE = Path(__file__).resolve().parent / "data" / "story_gpt.safetensors"
# The SHA-256 of the shipped file, checked when it is loaded (as the tokenizer's files are); a retrained
# file needs its new hash here (sha256sum gpt_from_scratch/data/story_gpt.safetensors).
TRAINED_MODEL_SHA256 = "87c23dce02e1c866580b1153da3dc94abc8edcfb4cabd5a970b4124ab3af1ac0"
# The same training run after its first 100 steps (float16 on disk, float32 once loaded): notebook 11
# shows its greedy loop. Written by `python tools/train_story_model.py --early`.
EARLY_MODEL_STEP = 100
EARLY_MODEL_FILE = TRAINED_MODEL_FILE.with_name(f"story_gpt_step{EARLY_MODEL_STEP}.safetensors")
# The entropy floor of the validation loss exactly as the shipped run measures it (windows that run on
# into the next story), computed by `python tools/window_floor.py`; tests/test_window_floor.py recomputes it.
WINDOW_FLOOR_FILE = TRAINED_MODEL_FILE.with_name("window_floor.json")


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a .safetensors file, got {type(path).__name__}; "
                        "leave it out to load the shipped model")
    path = Path(path)
    if not path.is_file():
        hint = " (a directory: give the .safetensors file in it)" if path.is_dir() else ""
        raise FileNotFoundError(f"{path} is missing{hint}: reinstall the package, or rebuild it with "
                                "python tools/train_story_model.py")
    return path


def trained_model_metadata(path=TRAINED_MODEL_FILE):
    """The shipped model's metadata: config, vocabulary, corpus, training settings, results (a dict)."""
    from safetensors import SafetensorError, safe_open

    path = _check_path(path)
    try:
        with safe_open(path, framework="pt") as f:
            stored = f.metadata()
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{path} is not a readable safetensors file (damaged or truncated?): {err}") from err
    meta = {}
    for key, value in (stored or {}).items():
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: metadata '{key}' is not valid JSON: {err}") from err
    config, tokenizer = meta.get("config"), meta.get("tokenizer")
    if not isinstance(config, dict) or not isinstance(tokenizer, dict) or "gpt2_ids" not in tokenizer:
        raise ValueError(f"{path} lacks the metadata of a story model ('config', and 'tokenizer' with 'gpt2_ids'); "
                         "it was not written by tools/train_story_model.py")
    return meta


def window_floor():
    """The lowest validation loss any model could record in the shipped run (nats per token): a dict with
    'all_batches' (the final loss's floor), 'history_batches' (the floor of the losses recorded during
    training, which use the first 'n_history_batches' batches) and 'per_story' (whole stories)."""
    return json.loads(WINDOW_FLOOR_FILE.read_text())


def _verify_shipped(path):
    """The shipped file must be the one this version of the package was released with (its SHA-256)."""
    if Path(path).resolve() != TRAINED_MODEL_FILE:
        return
    digest = hashlib.sha256(TRAINED_MODEL_FILE.read_bytes()).hexdigest()
    if digest != TRAINED_MODEL_SHA256:
        raise ValueError(f"{TRAINED_MODEL_FILE} is damaged or not the shipped model (sha256 {digest}, expected "
                         f"{TRAINED_MODEL_SHA256}); reinstall the package")


def _story_parts(meta, path):
    """The config and StoryTokenizer the metadata describes, checked against each other."""
    cfg = meta["config"]
    try:
        validate_config(cfg)
        tokenizer = StoryTokenizer(meta["tokenizer"]["gpt2_ids"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: its metadata cannot build the model: {err}") from err
    if tokenizer.n_vocab != cfg["vocab_size"]:
        raise ValueError(f"{path}: the tokenizer has {tokenizer.n_vocab} tokens but the model's vocab_size is "
                         f"{cfg['vocab_size']}; the file is inconsistent")
    return cfg, tokenizer


def _read_weights(path, model):
    """The file's tensors, one for each parameter of `model`: same shape, floating point, finite."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .checks import check_weight

    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{path} is not a readable safetensors file (damaged or truncated?): {err}") from err
    params = dict(model.named_parameters())
    buffers = {name for name, _ in model.named_buffers()}
    stored_buffers = sorted(set(tensors) & buffers)
    if stored_buffers:  # the causal mask is built by the model; one read from a file could let it see the future
        raise ValueError(f"{path} stores buffer(s) {', '.join(stored_buffers[:3])}: buffers such as the causal "
                         "mask are built by the model, never loaded; save only model.named_parameters()")
    missing, unexpected = sorted(set(params) - set(tensors)), sorted(set(tensors) - set(params))
    if missing or unexpected:
        raise ValueError(f"{path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    try:
        for name, value in tensors.items():
            check_weight(name, value, params[name].shape)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    return tensors


def load_trained_gpt(device=None, path=TRAINED_MODEL_FILE):
    """(model, tokenizer): the story GPT in eval mode on `device` (default CPU), and its StoryTokenizer.

    Any other file is read with the same checks as the shipped one (and as GPTModel.from_pretrained):
    a damaged file, inconsistent metadata, a missing, extra or non-finite weight or a stored buffer is
    refused with a ValueError naming the file.
    """
    device = get_device(device) if device is not None else torch.device("cpu")
    meta = trained_model_metadata(path)
    _verify_shipped(path)
    cfg, tokenizer = _story_parts(meta, path)
    with torch.random.fork_rng(devices=[]):  # building draws random initial weights: keep the
        model = GPTModel(cfg)                 # learner's random numbers untouched
    model.load_state_dict(_read_weights(Path(path), model), strict=False)  # buffers stay the model's own
    model.to(device)
    return model.eval(), tokenizer


def write_stories(model, tokenizer, prompt="Once upon a time", n_stories=1, max_new_tokens=300,
                  temperature=0.0, top_k=None, top_p=None, seed=123):
    """`n_stories` stories that continue `prompt`, each cut at its <|endoftext|> (a list of str).

    temperature 0 is greedy (every story is the same); otherwise the draws come from a CPU
    generator seeded with `seed`, so the stories are the same on every run. Every argument is checked
    first, and a request too large for memory (n_stories=10**5) is refused before anything is allocated.
    """
    from .checks import check_write_stories_args
    from .sampling import generate

    prompt_ids = check_write_stories_args(model, tokenizer, prompt, n_stories, max_new_tokens, temperature, top_k,
                                          top_p, seed)
    ids = torch.tensor([prompt_ids] * n_stories, device=model.tok_emb.weight.device)
    generator = torch.Generator().manual_seed(seed) if temperature > 0 else None
    out = generate(model, ids, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                   eos_id=tokenizer.eot_id, generator=generator)
    stories = []
    for row in out.tolist():
        if tokenizer.eot_id in row:
            row = row[:row.index(tokenizer.eot_id)]
        text = tokenizer.decode(row)
        # "Tom was very" is read as " Tom was very" (see StoryTokenizer.encode): give back what was typed.
        stories.append(text[1:] if text.startswith(" ") and not prompt.startswith(" ") else text)
    return stories
