"""Input checks for every public function, block and loader of the package.

They turn what would be an IndexError, a shape error or a device-side assert deep inside torch (or,
worse, a silently wrong result) into a ValueError/TypeError that names the argument, the value and
the fix. The taught code calls one of them as its first line and stays free of defensive clutter.
"""

import collections.abc
import math
import os

import torch

# Each attention layer keeps a causal mask of context_length x context_length booleans (notebook 05):
# 1 MiB for GPT-2's 1024 positions, 256 MiB at this limit. A larger context_length is refused before
# anything is allocated (10**6 positions would ask for about a terabyte per layer).
MAX_CONTEXT_LENGTH = 16384

# The dtypes nn.Embedding takes as indices. Others are refused with a hint rather than converted,
# so that float ids (1.7) or bool masks are never mistaken for token ids.
TOKEN_ID_DTYPES = (torch.int64, torch.int32)


def _show(value, limit=60):
    """A short repr of `value` for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- plain numbers


def check_int(value, name, minimum=0, maximum=None):
    """An int (not a bool) with minimum <= value (<= maximum)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_show(value)} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {'positive' if minimum == 1 else f'>= {minimum}'}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:,}, got {value:,}")


def check_non_negative_int(value, name):
    check_int(value, name, minimum=0)


def check_positive_int(value, name):
    check_int(value, name, minimum=1)


def check_positive_number(value, name):
    """A real number (int or float, not a bool) that is finite and > 0: an eps, a rope_theta."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number, got {value!r} ({type(value).__name__})")
    if not 0 < value < float("inf"):  # also rejects NaN
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_show(value)} ({type(value).__name__})")


def check_rate(value, name, short="dropout"):
    """A dropout probability: a real number with 0 <= value < 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_show(value)} ({type(value).__name__})")
    if not 0 <= value < 1:  # also rejects NaN
        raise ValueError(f"{name} must satisfy 0 <= {short} < 1, got {value}")


def check_context_length(value, name="context_length"):
    """A positive int small enough for the causal mask (context_length**2 booleans per layer) to fit."""
    check_positive_int(value, name)
    if value > MAX_CONTEXT_LENGTH:
        gib = value * value / 1024**3
        raise ValueError(
            f"{name} is {value:,}: each attention layer's causal mask would hold {name}**2 booleans "
            f"({gib:,.1f} GiB); use at most {MAX_CONTEXT_LENGTH:,} positions"
        )


# ----------------------------------------------------------------------------- tensors


def check_tensor(x, name, needs_values=True):
    """A dense torch.Tensor; with `needs_values`, not on the meta device (which has shapes but no values)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}; convert it with torch.tensor(...)"
        )
    if x.layout != torch.strided:
        raise TypeError(f"{name} must be a dense tensor, got layout {x.layout}; convert it with {name}.to_dense()")
    if needs_values and x.is_meta:
        raise ValueError(
            f"{name} is on the meta device: it has a shape {list(x.shape)} but no values; build it on 'cpu' or a GPU"
        )


def check_features(x, width=None, name="x"):
    """A floating-point tensor whose last dimension is `width`.

    `width` is an int, None (any width), the nn.Linear that reads x first (then x must also have that
    layer's dtype and device, which F.linear would otherwise report from deep inside torch), or a
    parameter vector such as LayerNorm's scale (then x must be on its device).
    """
    check_tensor(x, name, needs_values=False)
    if not x.dtype.is_floating_point:
        raise TypeError(
            f"{name} must be a floating-point tensor (e.g. torch.float32), got dtype {x.dtype}; "
            f"convert it with {name}.float()"
        )
    weight = width.weight if isinstance(width, torch.nn.Linear) else width
    if isinstance(width, torch.nn.Linear):
        width = width.in_features
    elif isinstance(width, torch.Tensor):
        width = width.shape[-1]
    if width is not None and (x.dim() == 0 or x.shape[-1] != width):
        got = "a 0-D tensor" if x.dim() == 0 else f"shape {list(x.shape)}"
        raise ValueError(
            f"{name} must have {width} features in its last dimension (the size this module was built for), "
            f"got {got}"
        )
    if not isinstance(weight, torch.Tensor):
        return
    if x.device != weight.device:
        raise ValueError(f"{name} is on {x.device} but the module is on {weight.device}; move {name} with .to(...)")
    if weight.dim() == 2 and x.dtype != weight.dtype:  # an nn.Linear's weight: F.linear needs one dtype
        raise TypeError(
            f"{name} has dtype {x.dtype} but the module's weights are {weight.dtype}; convert one of them, "
            f"e.g. {name}.to({weight.dtype})"
        )


def check_sequence(x, width, context_length, name="x"):
    """A (batch, seq, width) floating-point tensor with seq <= context_length; `width` as in check_features."""
    check_features(x, width, name)
    if x.dim() != 3:
        shown = width.in_features if isinstance(width, torch.nn.Linear) else width
        raise ValueError(f"{name} must have shape [batch, seq, {shown}], got {x.dim()}-D shape {list(x.shape)}")
    if x.shape[1] > context_length:
        raise ValueError(
            f"{name} has {x.shape[1]} tokens but context_length is {context_length}; "
            "crop it to the last context_length tokens"
        )


def check_token_ids(idx, vocab_size, context_length=None, name="in_idx"):
    """Check that `idx` is a [batch, seq] tensor of integer token ids the model can embed."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of token ids, got {type(idx).__name__}; "
            f"convert it with torch.tensor(ids, dtype=torch.long)"
        )
    check_tensor(idx, name)
    if idx.dtype not in TOKEN_ID_DTYPES:
        raise TypeError(
            f"{name} must hold integer token ids of dtype torch.long (int64) or torch.int32, got dtype "
            f"{idx.dtype}; convert whole-number ids with {name}.long()"
        )
    if idx.dim() != 2:
        raise ValueError(
            f"{name} must have shape [batch, seq], got {idx.dim()}-D shape {list(idx.shape)}"
            + ("; add a batch dimension with .unsqueeze(0)" if idx.dim() == 1 else "")
        )
    if idx.shape[0] == 0 or idx.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {list(idx.shape)}); give at least one token")
    if context_length is not None and idx.shape[1] > context_length:
        raise ValueError(
            f"{name} has {idx.shape[1]} tokens but the model's context_length is {context_length}; "
            "crop it to the last context_length tokens"
        )
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} holds token id {bad}, outside the vocabulary [0, {vocab_size})")


# ----------------------------------------------------------------------------- building blocks


def check_attention_args(d_in, d_out, context_length, dropout, num_heads, qkv_bias, use_sdpa=False):
    """The arguments of MultiHeadAttention.__init__."""
    check_positive_int(d_in, "d_in")
    check_positive_int(d_out, "d_out")
    check_context_length(context_length)
    check_rate(dropout, "dropout")
    check_positive_int(num_heads, "num_heads")
    check_bool(qkv_bias, "qkv_bias")
    check_bool(use_sdpa, "use_sdpa")
    if d_out % num_heads != 0:
        raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads}) so every head gets the same width")


def check_layer_sizes(layer_sizes, use_shortcut):
    """The arguments of ExampleDeepNeuralNetwork.__init__."""
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, (list, tuple)):
        raise TypeError(f"layer_sizes must be a list of ints such as [3, 3, 1], got {_show(layer_sizes)}")
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs at least two sizes (input and output), got {list(layer_sizes)}")
    for i, size in enumerate(layer_sizes):
        check_positive_int(size, f"layer_sizes[{i}]")
    check_bool(use_shortcut, "use_shortcut")


def check_layer_gradients_args(model, x, target):
    """x (..., n_in) and target (..., n_out) that fit an ExampleDeepNeuralNetwork `model`."""
    if not (hasattr(model, "layers") and hasattr(model, "use_shortcut")):
        raise TypeError(f"model must be an ExampleDeepNeuralNetwork, got {type(model).__name__}")
    check_features(x, model.layers[0][0], "x")
    expected = (*x.shape[:-1], model.layers[-1][0].out_features)
    check_features(target, None, "target")
    if tuple(target.shape) != expected:
        raise ValueError(f"target must have the shape of the model's output, {list(expected)}, got {list(target.shape)}")


def check_cache_args(n_layers, batch_size, n_heads, head_dim, capacity, dtype, device):
    """The arguments of KVCache.__init__."""
    for value, name in ((n_layers, "n_layers"), (batch_size, "batch_size"), (n_heads, "n_heads"),
                        (head_dim, "head_dim"), (capacity, "capacity")):
        check_positive_int(value, name)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float32, got {_show(dtype)}")
    n_bytes = 2 * n_layers * batch_size * n_heads * capacity * head_dim * dtype.itemsize  # keys and values
    check_allocation(n_bytes, f"a KV cache of {n_layers} layers x batch {batch_size} x {capacity:,} positions",
                     "use a smaller batch or capacity")
    if device is not None:
        from .device import get_device  # a clear error for an unknown or unavailable device

        get_device(device)


def check_model(model, name="model"):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module such as GPTModel, got {type(model).__name__}")


def has_attention_blocks(model):
    """True for a GPTModel-like model whose blocks are TransformerBlocks (the KV cache needs their `att`)."""
    blocks = getattr(model, "trf_blocks", None)
    return blocks is not None and len(blocks) > 0 and all(hasattr(b, "att") for b in blocks)


def check_gpt_model(model, name="model", fix=""):
    """A GPTModel (or a model with the same parts), not DummyGPTModel or something else."""
    if not (isinstance(model, torch.nn.Module) and hasattr(model, "tok_emb") and has_attention_blocks(model)):
        kind = type(model).__name__
        why = " (its placeholder blocks have no attention or feed-forward)" if kind == "DummyGPTModel" else ""
        raise TypeError(f"{name} must be a GPTModel, got {kind}{why}{fix}")


# ----------------------------------------------------------------------------- checkpoints and head ablation


def check_checkpoint_args(path, model, optimizer, scheduler=None, step=0):
    """save_checkpoint / load_checkpoint: a path, an nn.Module, an optimizer (or None), a scheduler (or None)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    check_model(model)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer such as AdamW, got {type(optimizer).__name__}")
    if scheduler is not None and not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        raise TypeError(f"scheduler must be a torch.optim.lr_scheduler (e.g. cosine_schedule's), "
                        f"got {type(scheduler).__name__}")
    check_non_negative_int(step, "step")


def read_checkpoint(path):
    """torch.load(path, weights_only=True) -- tensors, numbers, strings, lists and dicts only, so loading
    cannot run code -- with a clear error for a missing file or one that save_checkpoint did not write."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}: check the path, or save one first "
                                "with save_checkpoint(path, model, optimizer, step)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle.UnpicklingError, RuntimeError, EOFError, ... depending on the damage
        raise ValueError(f"{os.fspath(path)!r} is not a checkpoint written by save_checkpoint (torch.load with "
                         f"weights_only=True refused it: {str(error).splitlines()[0][:200]})") from None
    if not isinstance(checkpoint, dict) or not {"model", "optimizer", "step", "scheduler"} <= set(checkpoint):
        raise ValueError(f"{os.fspath(path)!r} is not a checkpoint written by save_checkpoint "
                         "(it needs the keys model, optimizer, step and scheduler)")
    return checkpoint


def check_checkpoint_fits(checkpoint, path, model, optimizer, scheduler):
    """The saved weights have the model's names and shapes; the optimizer and scheduler states are there."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in checkpoint["model"].items()}
    wrong = [f"{k}: saved {list(found[k]) if k in found else 'nothing'}, model has "
             f"{list(expected[k]) if k in expected else 'nothing'}"
             for k in sorted(set(expected) | set(found)) if expected.get(k) != found.get(k)]
    if wrong:
        raise ValueError(f"{os.fspath(path)!r} holds the weights of a different model ({len(wrong)} tensors differ; "
                         f"{'; '.join(wrong[:3])}): build the model with the config it was saved from")
    if optimizer is not None:
        saved = [len(g["params"]) for g in checkpoint["optimizer"]["param_groups"]]
        groups = [len(g["params"]) for g in optimizer.param_groups]
        if saved != groups:
            raise ValueError(f"the optimizer has parameter groups of sizes {groups}, the checkpoint {saved}: "
                             "build it as for the saved run, e.g. AdamW(model.parameters(), ...)")
    if scheduler is not None and checkpoint["scheduler"] is None:
        raise ValueError(f"{os.fspath(path)!r} was saved without a scheduler: pass scheduler=None")


def check_head(model, layer, head):
    """A GPTModel, a block index in [0, n_layers) and a head index in [0, n_heads)."""
    check_gpt_model(model)
    for name, value, size, what in (("layer", layer, len(model.trf_blocks), "n_layers"),
                                    ("head", head, model.trf_blocks[0].att.num_heads, "n_heads")):
        check_int(value, name)
        if value >= size:
            raise ValueError(f"{name} must be in 0..{size - 1}: the model has {what} = {size}; got {value}")


def check_stories_and_tokenizer(stories, tokenizer):
    """A non-empty list of story strings and a StoryTokenizer (encode and eot_id)."""
    if isinstance(stories, str) or not isinstance(stories, (list, tuple)) or not stories:
        raise TypeError(f"stories must be a non-empty list of str, got {_show(stories)}; "
                        "e.g. make_stories(200, seed=2024)")
    if not all(isinstance(s, str) for s in stories):
        raise TypeError("stories must be a list of str; one item is not a str")
    if not (callable(getattr(tokenizer, "encode", None)) and hasattr(tokenizer, "eot_id")):
        raise TypeError(f"tokenizer must be a StoryTokenizer (load_trained_gpt()'s), got {type(tokenizer).__name__}")


def check_generate_args(model, idx, max_new_tokens, context_size):
    """Validate the arguments of generate_text_simple before the first forward pass."""
    if not callable(model):
        raise TypeError(f"model must be a model to call on token ids, got {type(model).__name__}")
    check_non_negative_int(max_new_tokens, "max_new_tokens")
    check_positive_int(context_size, "context_size")
    vocab_size = model.tok_emb.num_embeddings if hasattr(model, "tok_emb") else float("inf")
    check_token_ids(idx, vocab_size, name="idx")
    if hasattr(model, "pos_emb") and context_size > model.pos_emb.num_embeddings:
        raise ValueError(
            f"context_size ({context_size}) is larger than the model's context_length "
            f"({model.pos_emb.num_embeddings})"
        )
    if hasattr(model, "tok_emb") and idx.device != model.tok_emb.weight.device:
        raise ValueError(
            f"idx is on {idx.device} but the model is on {model.tok_emb.weight.device}; move idx with idx.to(...)"
        )


# ----------------------------------------------------------------------------- sampling


def check_logits(logits, name="logits"):
    """Floating-point logits (..., vocab_size): no NaN, no +inf, at least one finite value per row."""
    check_tensor(logits, name)
    check_features(logits, None, name)
    if logits.dim() == 0 or logits.numel() == 0:
        raise ValueError(f"{name} must have shape [..., vocab_size] with at least one value, got {list(logits.shape)}")
    if bool(torch.isnan(logits).any()):
        raise ValueError(f"{name} contain NaN: the model's output is broken (check its weights and inputs)")
    if bool((logits == torch.inf).any()):
        raise ValueError(f"{name} contain +inf; give finite logits (-inf is allowed for excluded tokens)")
    if bool((logits == -torch.inf).all(dim=-1).any()):
        raise ValueError(f"a row of {name} is -inf everywhere: no token is left to choose")


def check_temperature(temperature):
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number (0 = greedy), got {_show(temperature)} ({type(temperature).__name__})")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}")
    if 0 < temperature <= 2.0**-150:  # 0 in float32 (at most half its smallest value): logits / 0 would be NaN
        raise ValueError(f"temperature {temperature} is 0 in float32 (its smallest positive value is 1.4e-45), "
                         "so logits / temperature is undefined; use 0 for greedy decoding")


def check_top_k(top_k):
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise TypeError(f"top_k must be an int >= 1 (or None for no top-k), got {_show(top_k)} ({type(top_k).__name__})")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")  # (None turns top-k off)


def check_top_p(top_p):
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)):
        raise TypeError(f"top_p must be a number with 0 < top_p <= 1 (or None), got {_show(top_p)} ({type(top_p).__name__})")
    if not 0 < top_p <= 1:  # also rejects NaN
        raise ValueError(f"top_p must satisfy 0 < top_p <= 1, got {top_p}")


_NOT_GIVEN = object()


def check_sampling_args(temperature, top_k, top_p, logits=_NOT_GIVEN):
    """ValueError/TypeError for a temperature, top_k or top_p that does not define a distribution (or bad logits)."""
    check_temperature(temperature)
    if top_k is not None:
        check_top_k(top_k)
    if top_p is not None:
        check_top_p(top_p)
    if logits is not _NOT_GIVEN:
        check_logits(logits)


def check_top_k_filter_args(logits, top_k):
    check_logits(logits)
    check_top_k(top_k)


def check_top_p_filter_args(logits, top_p):
    check_logits(logits)
    check_top_p(top_p)


def check_sample_args(logits, temperature, top_k, top_p, generator):
    """The arguments of sample_next_token: logits (batch, vocab_size) or (vocab_size,)."""
    check_sampling_args(temperature, top_k, top_p, logits)
    if logits.dim() > 2:
        raise ValueError(f"logits must have shape [batch, vocab_size], got {list(logits.shape)}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


# ----------------------------------------------------------------------------- checkpoints

WEIGHT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def check_weight(key, value, shape):
    """A checkpoint tensor must have the expected shape, a floating-point dtype and finite values."""
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"tensor '{key}' has shape {list(value.shape)}, expected {list(shape)}")
    if value.dtype not in WEIGHT_DTYPES:  # ints, bools, float8 (which torch.isfinite cannot even read)
        raise ValueError(
            f"tensor '{key}' has dtype {value.dtype}; weights must be floating point (float32, float16, bfloat16 "
            "or float64)"
        )
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"tensor '{key}' holds NaN or infinite values: the checkpoint is broken")


def check_conversion_args(tensors, cfg, tie_word_embeddings):
    """The arguments of convert_gpt2_state_dict; the config is checked before any mask is allocated."""
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise TypeError(f"tensors must be a dict of name -> torch.Tensor, got {type(tensors).__name__}")
    from .config import validate_config  # config.py imports this module

    validate_config(cfg)
    check_bool(tie_word_embeddings, "tie_word_embeddings")



# ----------------------------------------------------------------------------- seeds, numbers, memory

# torch.manual_seed takes seeds in [-(2**63), 2**64); SplitMix64 (stories.py) keeps 64 bits. Outside
# [0, 2**64) a seed would be wrapped onto another one (2**64 gives seed 0's stories), so it is refused.
MAX_SEED = 2**64 - 1

# The most one call may ask for at once (masks of all layers, KV caches, batches of stories): above
# this the request is refused with its size before anything is allocated.
MAX_ALLOCATION_BYTES = 8 * 1024**3


def check_seed(seed, name="seed"):
    check_int(seed, name, minimum=0, maximum=MAX_SEED)


def check_number(value, name, minimum=None, fix=""):
    """A real number (int or float, not a bool, not a string), finite, and >= minimum if given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_show(value)} ({type(value).__name__}){fix}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}{fix}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}{fix}")


def check_allocation(n_bytes, what, fix):
    """Refuse a request whose tensors would take more than MAX_ALLOCATION_BYTES, before allocating them."""
    if n_bytes > MAX_ALLOCATION_BYTES:
        raise ValueError(f"{what} would take {n_bytes / 1024**3:,.1f} GiB, more than the "
                         f"{MAX_ALLOCATION_BYTES / 1024**3:.0f} GiB this package allocates at once; {fix}")


def check_mask_memory(context_length, n_layers):
    """Each of the n_layers attention layers holds a context_length**2 boolean causal mask (notebook 05).

    A model built on the meta device (to count parameters, notebook 08) allocates nothing and is not bounded.
    """
    if torch.get_default_device().type == "meta":
        return
    check_allocation(context_length**2 * n_layers, f"the causal masks of {n_layers} layers with "
                     f"context_length {context_length:,}", "use fewer positions or fewer layers")


def book_arguments(max_positional=None, positional_hint="", **renamed):
    """Decorator: a clear TypeError for the book's argument names and positions that mean something else here.

    `renamed` maps an argument name of the book (Raschka, chapter 5) to what to use instead; with
    `max_positional`, more positional arguments are refused (the options after them are keyword-only).
    """
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            for name, instead in renamed.items():
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() has no argument {name!r} (the book's name): {instead}")
            if max_positional is not None and len(args) > max_positional:
                raise TypeError(
                    f"{fn.__name__}() takes {max_positional} positional arguments, got {len(args)}: pass the "
                    f"others by name{positional_hint}"
                )
            return fn(*args, **kwargs)
        return call
    return wrap


# ----------------------------------------------------------------------------- training (notebook 10)

GPT2_VOCAB_SIZE = 50257


def as_token_id_list(ids, name="ids", vocab_size=None):
    """A list of Python ints from a list/tuple of ints, a 1-D (or (1, n)) integer tensor or NumPy array.

    Floats (452.7), bools, strings and None are refused rather than truncated or read as ids.
    """
    import numbers

    if isinstance(ids, torch.Tensor) or type(ids).__module__ == "numpy":
        kind = str(ids.dtype)
        if isinstance(ids, torch.Tensor):
            is_int = not (ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool)
            if is_int and ids.is_meta:
                raise ValueError(f"{name} is on the meta device: it has a shape but no values")
        else:
            is_int = ids.dtype.kind in "iu"
        if not is_int:
            raise TypeError(f"{name} must hold integer token ids, got dtype {kind}; convert whole-number ids with .long()")
        if ids.ndim == 2 and ids.shape[0] == 1:
            ids = ids[0]
        if ids.ndim != 1:
            raise ValueError(f"{name} must be one sequence of ids, shape (n,) or (1, n), got shape {list(ids.shape)}")
        ids = ids.tolist()
    elif isinstance(ids, (list, tuple, range)):
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
        if bad:
            raise TypeError(f"{name} must hold int token ids, got {_show(bad[0])} ({type(bad[0]).__name__})")
        ids = [int(i) for i in ids]
    else:
        hint = "; encode text first with the tokenizer's encode()" if isinstance(ids, (str, bytes)) else ""
        raise TypeError(f"{name} must be a list of int token ids or an integer tensor, got {type(ids).__name__}{hint}")
    if vocab_size is not None:
        bad = [i for i in ids if not 0 <= i < vocab_size]
        if bad:
            raise ValueError(f"{name} holds token id {bad[0]}, outside the vocabulary [0, {vocab_size})")
    return ids


def check_gpt2_ids(gpt2_ids):
    """The GPT-2 token ids a StoryTokenizer keeps: ints in [0, 50257)."""
    if isinstance(gpt2_ids, (set, frozenset)):
        gpt2_ids = sorted(gpt2_ids, key=lambda i: (type(i).__name__, str(i)))
    as_token_id_list(gpt2_ids, "gpt2_ids", GPT2_VOCAB_SIZE)


def check_text(text, name="text"):
    if not isinstance(text, str):
        hint = "; decode ids with decode() instead" if isinstance(text, (list, tuple, torch.Tensor)) else ""
        raise TypeError(f"{name} must be a str, got {_show(text)} ({type(text).__name__}){hint}")


def check_story_tokenizer(tokenizer, name="tokenizer"):
    """A StoryTokenizer (not GPT-2's own tiktoken Encoding, which has no eot_id and a 50,257-token vocabulary)."""
    if not all(hasattr(tokenizer, a) for a in ("encode", "decode", "eot_id", "n_vocab")):
        hint = (" (GPT-2's own tokenizer: the story model reads the StoryTokenizer that load_trained_gpt() returns)"
                if hasattr(tokenizer, "encode") else "")
        raise TypeError(f"{name} must be a StoryTokenizer, got {type(tokenizer).__name__}{hint}")


def check_window_args(token_ids, max_length, stride, starts):
    """The arguments of GPTDataset: a list (or 1-D tensor) of int ids, window sizes, optional start positions."""
    as_token_id_list(token_ids, "token_ids")
    check_positive_int(max_length, "max_length")
    check_positive_int(stride, "stride")
    if starts is not None:
        as_token_id_list(starts, "starts")


def check_dataloader_args(batch_size, shuffle, drop_last, seed):
    check_positive_int(batch_size, "batch_size")
    check_bool(shuffle, "shuffle")
    check_bool(drop_last, "drop_last")
    check_seed(seed)


def check_loader(loader, name):
    """Something to iterate over for (input, target) batches, with a length above 0 (an empty one would never train)."""
    if not hasattr(loader, "__iter__") or not hasattr(loader, "__len__") or isinstance(loader, (str, bytes, dict)):
        raise TypeError(f"{name} must be a DataLoader of (input, target) batches, got {type(loader).__name__}")
    if len(loader) == 0:
        raise ValueError(f"{name} is empty: it yields no batch (too few windows for batch_size with drop_last=True?)")
    # A one-shot iterator is empty after one pass, so training would wait forever. A DataLoader is never
    # asked for an iterator here: iter() on it draws from its shuffle generator and would change the batches.
    if isinstance(loader, collections.abc.Iterator):
        raise TypeError(f"{name} is an iterator that runs out after one pass; pass the DataLoader itself")
    if not isinstance(loader, torch.utils.data.DataLoader):
        first = iter(loader)
        if first is iter(loader):
            raise TypeError(f"{name} gives the same iterator on every pass, so it runs out after one; pass a "
                            "DataLoader (or a list of batches)")


def check_batch(input_batch, target_batch, model):
    """(batch, seq) integer inputs and targets of one shape; every target a real token id of the model."""
    check_model(model)
    vocab_size = model.tok_emb.num_embeddings if hasattr(model, "tok_emb") else None
    check_token_ids(input_batch, vocab_size if vocab_size is not None else float("inf"), name="input_batch")
    check_tensor(target_batch, "target_batch")
    if target_batch.dtype not in TOKEN_ID_DTYPES or target_batch.shape != input_batch.shape:
        raise ValueError(f"target_batch must be integer ids of the input's shape {list(input_batch.shape)}, got "
                         f"dtype {target_batch.dtype} and shape {list(target_batch.shape)}")
    low, high = int(target_batch.min()), int(target_batch.max())
    if low < 0 or (vocab_size is not None and high >= vocab_size):
        raise ValueError(f"target_batch holds {low if low < 0 else high}, not a token id of the vocabulary "
                         f"[0, {vocab_size}) (cross_entropy would ignore -100 and give NaN for a batch of them)")


def check_loss_loader_args(data_loader, model, num_batches):
    check_loader(data_loader, "data_loader")
    check_model(model)
    if num_batches is not None:
        check_positive_int(num_batches, "num_batches")


def check_training_args(model, train_loader, val_loader, optimizer, num_steps, eval_freq, eval_iter,
                        scheduler, on_eval, progress, max_grad_norm):
    """Everything train_model_simple needs, checked before the first step (and before the progress bar)."""
    check_model(model)
    check_loader(train_loader, "train_loader")
    check_loader(val_loader, "val_loader")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer such as torch.optim.AdamW(model.parameters()), "
                        f"got {type(optimizer).__name__}")
    own = {id(p) for p in model.parameters()}
    foreign = [p for group in optimizer.param_groups for p in group["params"] if id(p) not in own]
    if foreign:
        raise ValueError(f"the optimizer holds {len(foreign)} parameter tensor(s) that are not this model's: it would "
                         "step another model; build it with torch.optim.AdamW(model.parameters(), ...)")
    for group in optimizer.param_groups:
        lr = group.get("lr", 0.0)
        check_number(float(lr) if isinstance(lr, torch.Tensor) and lr.numel() == 1 else lr,
                     "the optimizer's learning rate", minimum=0)
    check_positive_int(num_steps, "num_steps")
    check_positive_int(eval_freq, "eval_freq")
    check_positive_int(eval_iter, "eval_iter")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"scheduler must be None or a learning-rate scheduler with .step(), got {type(scheduler).__name__}")
    if on_eval is not None and not callable(on_eval):
        raise TypeError(f"on_eval must be None or a function (step, train_loss, val_loss), got {type(on_eval).__name__}")
    check_bool(progress, "progress")
    check_max_grad_norm(max_grad_norm)


def check_max_grad_norm(max_grad_norm):
    """None (no clipping) or a number > 0: the largest gradient norm a training step lets through."""
    if max_grad_norm is not None:
        check_number(max_grad_norm, "max_grad_norm")
        if max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0 (or None for no clipping), got {max_grad_norm}")


def check_finite_loss(loss, step):
    """Stop training at the first NaN or infinite loss, saying where, instead of training on NaN weights."""
    value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise ValueError(
            f"the loss is {value} at step {step}: training diverged (a learning rate too high, NaN or infinite?) "
            "and the weights are no longer usable; rebuild the model and lower the learning rate or clip gradients"
        )


# ----------------------------------------------------------------------------- data-parallel training


def _env_int(env, name, minimum, maximum=None):
    """An integer environment variable set by torchrun, with a fix that says how to launch."""
    text = env.get(name)
    if text is None or not text.strip().lstrip("-").isdigit():
        raise ValueError(f"the environment variable {name} is {text!r}, not an integer: launch the script with "
                         "torchrun --nproc_per_node=N script.py, which sets RANK, WORLD_SIZE and LOCAL_RANK")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        limit = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"the environment variable {name}={value} must be {limit}; launch the script with "
                         "torchrun --nproc_per_node=N script.py instead of setting it by hand")
    return value


def read_torchrun_env(env):
    """(rank, world_size, local_rank) from torchrun's environment variables; (0, 1, 0) for a plain `python`."""
    if not isinstance(env, collections.abc.Mapping):
        raise TypeError(f"env must be a mapping such as os.environ, got {type(env).__name__}")
    if "WORLD_SIZE" not in env and "RANK" not in env:
        return 0, 1, 0
    world_size = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0, world_size - 1)
    local_rank = _env_int(env, "LOCAL_RANK", 0, rank)
    if world_size > 1:
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not env.get(name):
                raise ValueError(f"the environment variable {name} is not set, so the {world_size} processes "
                                 "cannot meet; torchrun --standalone sets it (or set MASTER_ADDR=127.0.0.1 and a "
                                 "free MASTER_PORT)")
        _env_int(env, "MASTER_PORT", 1, 65535)
    return rank, world_size, local_rank


def check_backend(backend, device):
    """The process group's backend for `device`: None picks NCCL for CUDA GPUs and gloo for the CPU."""
    device = torch.device(device)
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"data-parallel training runs on the CPU (gloo) or CUDA GPUs (NCCL), not on {device}; "
                         "use device='cpu' or one process")
    cuda = device.type == "cuda"
    if backend is None:
        return "nccl" if cuda and torch.distributed.is_nccl_available() else "gloo"
    if not isinstance(backend, str):
        raise TypeError(f"backend must be None, 'gloo' or 'nccl', got {_show(backend)} ({type(backend).__name__})")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"unknown backend {backend!r}: use 'gloo' (CPU) or 'nccl' (CUDA GPUs), or None to choose")
    if backend == "nccl" and not (cuda and torch.distributed.is_nccl_available()):
        raise ValueError(f"backend 'nccl' needs CUDA GPUs and a torch built with NCCL, and this run is on "
                         f"{device}{'' if cuda else ' (no GPU)'}; use backend='gloo' (or None, which chooses it)")
    return backend


def check_timeout(timeout_s):
    check_positive_number(timeout_s, "timeout_s")


def check_world(rank, world_size):
    check_positive_int(world_size, "world_size")
    check_int(rank, "rank", minimum=0, maximum=world_size - 1)


def check_share(n_rows, world_size, what="the global batch"):
    """A batch of n_rows splits into world_size equal shares of at least one row each."""
    if n_rows < world_size:
        raise ValueError(f"{what} has {n_rows} rows, fewer than world_size={world_size} processes: each needs at "
                         f"least one; use at most {n_rows} processes or a larger batch_size")
    if n_rows % world_size:
        raise ValueError(f"{what} has {n_rows} rows, which world_size={world_size} processes cannot share equally "
                         f"({n_rows} % {world_size} = {n_rows % world_size}); make batch_size a multiple of "
                         f"{world_size} (e.g. {n_rows - n_rows % world_size or world_size}) or change the number "
                         "of processes")


def check_shard_args(loader, rank, world_size):
    """A loader of (input, target) batches whose batch_size world_size processes can share equally."""
    check_loader(loader, "loader")
    check_world(rank, world_size)
    batch_size = getattr(loader, "batch_size", None)
    if isinstance(batch_size, int):
        check_share(batch_size, world_size, what=f"the loader's batch (batch_size={batch_size})")


def check_process(process):
    """A Process from setup_distributed()."""
    if not all(hasattr(process, name) for name in ("rank", "world_size", "device", "backend")):
        raise TypeError(f"process must be what setup_distributed() returns, got {type(process).__name__}")
    check_world(process.rank, process.world_size)


def check_write_stories_args(model, tokenizer, prompt, n_stories, max_new_tokens, temperature, top_k, top_p, seed):
    """The arguments of write_stories, checked before anything is allocated; returns the prompt's token ids."""
    check_gpt_model(model)
    check_story_tokenizer(tokenizer)
    check_text(prompt, "prompt")
    if not prompt.strip():
        raise ValueError(f"prompt is {prompt!r}: give the start of a story, e.g. 'Once upon a time'")
    check_positive_int(n_stories, "n_stories")
    check_non_negative_int(max_new_tokens, "max_new_tokens")
    check_sampling_args(temperature, top_k, top_p)
    check_seed(seed)
    if tokenizer.n_vocab != model.tok_emb.num_embeddings:
        raise ValueError(f"the tokenizer has {tokenizer.n_vocab} tokens but the model's vocabulary has "
                         f"{model.tok_emb.num_embeddings}: use the tokenizer that came with the model")
    ids = tokenizer.encode(prompt)
    # Each story keeps a KV cache (2 x n_layers x positions x emb_dim floats), a prefill's activations and logits.
    d, n_layers = model.tok_emb.embedding_dim, len(model.trf_blocks)
    positions = min(len(ids) + max_new_tokens, model.pos_emb.num_embeddings)
    per_story = 4 * (positions * (2 * n_layers + 4) * d + model.tok_emb.num_embeddings)
    check_allocation(n_stories * per_story, f"{n_stories:,} stories at once", "write fewer stories per call")
    return ids


def check_advance(cache, n_new):
    """cache.advance(n_new): a count of new positions >= 0 that keeps the cache within its capacity."""
    check_non_negative_int(n_new, "n_new")
    if cache.length + n_new > cache.capacity:
        raise ValueError(f"the cache holds {cache.length} of {cache.capacity} positions and cannot advance by {n_new}")


# ----------------------------------------------------------------------------- training faster (notebook 15)


def check_amp_args(device, amp_dtype):
    """Mixed precision: None (float32), torch.bfloat16 or torch.float16, on a device that can compute in it."""
    from .device import get_device

    if device is None:  # get_device(None) would choose one; here the caller says where the step runs
        raise TypeError("device must be a torch.device or a string such as 'cpu', got None")
    device = get_device(device)  # an unknown name, or a GPU this machine lacks, is refused there
    if amp_dtype is None:
        return device
    if amp_dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"amp_dtype must be None (float32), torch.bfloat16 or torch.float16, got {_show(amp_dtype)}")
    if device.type == "cuda" and amp_dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU cannot compute in bfloat16 (it needs an Ampere GPU or newer); use "
                         "amp_dtype=torch.float16 with a torch.amp.GradScaler, or None")
    return device


def check_micro_batches(batches, model):
    """A non-empty list of (input, target) micro-batches for `model`, each checked as calc_loss_batch does."""
    check_model(model)
    if not isinstance(batches, (list, tuple)) or not batches:
        raise TypeError(f"batches must be a non-empty list of (input_batch, target_batch) pairs, got "
                        f"{_show(batches)}; for one batch write [(input_batch, target_batch)]")
    for i, pair in enumerate(batches):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"batches[{i}] must be an (input_batch, target_batch) pair, got {_show(pair)}")
        check_batch(pair[0], pair[1], model)


def check_adamw_args(model, lr, weight_decay, implementation, implementations):
    check_model(model)
    check_number(lr, "lr", minimum=0)
    check_number(weight_decay, "weight_decay", minimum=0)
    if implementation not in implementations:
        raise ValueError(f"implementation must be one of {', '.join(map(repr, implementations))}, "
                         f"got {_show(implementation)}")
    devices = {p.device.type for p in model.parameters()}
    if implementation == "fused" and not devices <= {"cpu", "cuda", "mps", "xpu"}:
        raise ValueError(f"the fused AdamW runs on CPU and GPU parameters, not on {', '.join(sorted(devices))}; "
                         "use implementation='foreach'")


def check_activation_args(model, input_batch, target_batch):
    check_batch(input_batch, target_batch, model)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("no parameter of the model requires a gradient, so the forward pass saves nothing for a "
                         "backward pass; call model.requires_grad_(True)")
    if not torch.is_grad_enabled():
        raise ValueError("gradients are switched off here (torch.no_grad or torch.set_grad_enabled(False)), so the "
                         "forward pass saves nothing; count outside that block")


def check_step_args(optimizer, scaler, max_grad_norm):
    """training_step's optimizer, loss scaler (None or a torch.amp.GradScaler) and clipping norm."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer such as make_adamw(model, ...), got "
                        f"{type(optimizer).__name__}")
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(f"scaler must be None or a torch.amp.GradScaler, got {type(scaler).__name__}")
    check_max_grad_norm(max_grad_norm)
