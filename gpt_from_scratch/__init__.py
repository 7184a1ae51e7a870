"""gpt_from_scratch: the GPT-2 architecture, built piece by piece in the notebooks of this series.

The modules follow the notebooks: dummy (01), layernorm (02), feedforward (03), shortcut (04),
attention (05), block (06), model (07), params (08), generate (09), train (10), sampling (11),
kv_cache (12), pretrained (13). Support modules: config, checks, tokenizer, device, display, stories
(the training corpus), trained (the shipped story GPT), widgets (imported on demand, so the package
works without ipywidgets).
"""

# Support: configurations, devices, printing, the tokenizer
from .config import (
    GPT2_CONFIGS,
    GPT_CONFIG_124M,
    GPT_CONFIG_355M,
    GPT_CONFIG_774M,
    GPT_CONFIG_1558M,
    validate_config,
)
from .device import get_device, set_seed
from .display import rounded
from .tokenizer import END_OF_TEXT_ID, get_tokenizer, text_to_token_ids, token_ids_to_text

# 01-09: the chapter, from the placeholder model to greedy generation
from .dummy import DummyGPTModel, DummyLayerNorm, DummyTransformerBlock
from .layernorm import LayerNorm
from .feedforward import GELU, FeedForward
from .shortcut import ExampleDeepNeuralNetwork, layer_gradients
from .attention import MultiHeadAttention
from .block import TransformerBlock
from .model import GPTModel
from .params import (
    count_parameters,
    count_parameters_tied,
    gpt2_size_table,
    meta_model,
    model_size_mb,
    parameter_breakdown,
)
from .generate import generate_text_simple

# 10: training on the series' own stories, and the trained story GPT that ships with the package
from .train import StoryTokenizer, calc_loss_batch, calc_loss_loader, create_dataloader, train_model_simple
from .trained import load_trained_gpt

# 11-13: beyond the chapter -- sampling, the KV cache, OpenAI's weights
from .sampling import generate, next_token_probs, sample_next_token, top_k_filter, top_p_filter
from .kv_cache import KVCache, forward_with_cache, prefill
from .pretrained import load_gpt2, save_gpt2_checkpoint

__version__ = "0.1.0"

# 14: from GPT-2 to a Llama-style model (RMSNorm, RoPE, SwiGLU, grouped-query attention)
from .llama import (
    GroupedQueryAttention,
    LlamaBlock,
    LlamaModel,
    RMSNorm,
    RotaryEmbedding,
    SwiGLUFeedForward,
    apply_rope,
    kv_cache_bytes_per_token,
    load_llama,
    save_llama_checkpoint,
)
