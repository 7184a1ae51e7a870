"""The small GPT this series trains on its own stories, shipped inside the package.

`load_trained_gpt()` returns `(model, tokenizer)`: a GPTModel in eval mode that has learned the
children's stories of `stories.py`, and the StoryTokenizer it reads. It loads offline, from a
safetensors file of a few MiB in `gpt_from_scratch/data/` (no pickle: loading runs no code).

The file is written by `tools/train_story_model.py` with the training code of notebook 10. Its
metadata records everything needed to check it: the model config, the tokenizer's vocabulary (as
GPT-2 token ids), how the corpus was generated and split, the training settings and the final
validation loss. `tests/test_trained.py` recomputes that loss from the weights and a regenerated corpus.
"""

import json
from pathlib import Path

import torch

from .config import validate_config
from .device import get_device
from .model import GPTModel
from .train import StoryTokenizer

TRAINED_MODEL_FILE = Path(__file__).resolve().parent / "data" / "story_gpt.safetensors"
# The same training run after its first 100 steps (float16 on disk, float32 once loaded): notebook 11
# shows its greedy loop. Written by `python tools/train_story_model.py --early`.
EARLY_MODEL_STEP = 100
EARLY_MODEL_FILE = TRAINED_MODEL_FILE.with_name(f"story_gpt_step{EARLY_MODEL_STEP}.safetensors")


def trained_model_metadata(path=TRAINED_MODEL_FILE):
    """The shipped model's metadata: config, vocabulary, corpus, training settings, results (a dict)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall the package, or rebuild it with "
                                "python tools/train_story_model.py")
    with safe_open(path, framework="pt") as f:
        return {key: json.loads(value) for key, value in f.metadata().items()}


def load_trained_gpt(device=None, path=TRAINED_MODEL_FILE):
    """(model, tokenizer): the story GPT in eval mode on `device` (default CPU), and its StoryTokenizer."""
    from safetensors.torch import load_file

    meta = trained_model_metadata(path)
    cfg = meta["config"]
    validate_config(cfg)
    with torch.random.fork_rng(devices=[]):  # building draws random initial weights: keep the
        model = GPTModel(cfg)                 # learner's random numbers untouched
    missing, unexpected = model.load_state_dict(load_file(Path(path)), strict=False)
    buffers = {name for name, _ in model.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise ValueError(f"{path} does not match its config: missing {sorted(set(missing) - buffers)}, "
                         f"unexpected {sorted(unexpected)}")
    model.to(get_device(device) if device is not None else torch.device("cpu"))
    return model.eval(), StoryTokenizer(meta["tokenizer"]["gpt2_ids"])


def write_stories(model, tokenizer, prompt="Once upon a time", n_stories=1, max_new_tokens=300,
                  temperature=0.0, top_k=None, top_p=None, seed=123):
    """`n_stories` stories that continue `prompt`, each cut at its <|endoftext|> (a list of str).

    temperature 0 is greedy (every story is the same); otherwise the draws come from a CPU
    generator seeded with `seed`, so the stories are the same on every run.
    """
    from .sampling import generate

    ids = torch.tensor([tokenizer.encode(prompt)] * n_stories, device=model.tok_emb.weight.device)
    generator = torch.Generator().manual_seed(seed) if temperature > 0 else None
    out = generate(model, ids, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                   eos_id=tokenizer.eot_id, generator=generator)
    stories = []
    for row in out.tolist():
        if tokenizer.eot_id in row:
            row = row[:row.index(tokenizer.eot_id)]
        stories.append(tokenizer.decode(row))
    return stories
