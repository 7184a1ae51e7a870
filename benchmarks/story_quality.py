"""How well a trained story model writes: the grammar of 100 sampled stories, for one or more weight files.

    python benchmarks/story_quality.py gpt_from_scratch/data/story_gpt.safetensors /tmp/story.safetensors

For each file: 100 stories sampled from "Once upon a time" at temperature 0.8 with top-k 40 (seed 123,
so every file is judged on the same random draws), checked sentence by sentence against the corpus's
grammar (gpt_from_scratch.stories.grammar_report), and the validation loss stored with the weights.
Used to compare a model trained by a faster recipe with the shipped one (benchmarks/README.md).
"""

import argparse
from pathlib import Path

import torch

from gpt_from_scratch.stories import grammar_report
from gpt_from_scratch.trained import load_trained_gpt, trained_model_metadata, write_stories


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--stories", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.files:
        model, tokenizer = load_trained_gpt(path=path)
        stories = write_stories(model, tokenizer, n_stories=args.stories, temperature=0.8, top_k=40, seed=123)
        report = grammar_report(stories)
        val = trained_model_metadata(path)["results"]["val_loss"]
        print(f"{path}: {report}; validation loss stored with the weights: {val:.4f}", flush=True)


if __name__ == "__main__":
    main()
