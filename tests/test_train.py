"""The training code of notebook 10: tokenizer, windows, loss, the loop, and bad input."""

import math

import pytest
import torch

from gpt_from_scratch import GPTModel
from gpt_from_scratch.stories import make_stories
from gpt_from_scratch.tokenizer import get_tokenizer
from gpt_from_scratch.train import (
    GPTDataset, StoryTokenizer, calc_loss_batch, calc_loss_loader, create_dataloader, encode_stories,
    train_model_simple)


@pytest.fixture(scope="module")
def corpus():
    stories = make_stories(120, seed=5)
    tokenizer = StoryTokenizer.from_texts(stories)
    return stories, tokenizer, encode_stories(stories, tokenizer)


def tiny_model(vocab_size, context_length=32, seed=0):
    torch.manual_seed(seed)
    return GPTModel({"vocab_size": vocab_size, "context_length": context_length, "emb_dim": 32, "n_heads": 2,
                     "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False})


def test_story_tokenizer_round_trips_and_maps_to_gpt2(corpus):
    stories, tokenizer, ids = corpus
    gpt2 = get_tokenizer()
    assert tokenizer.decode(tokenizer.encode(stories[0])) == stories[0]
    # The same tokens as GPT-2's, renumbered: mapping back gives GPT-2's own ids.
    assert [tokenizer.gpt2_ids[i] for i in tokenizer.encode(stories[1])] == gpt2.encode(stories[1])
    assert tokenizer.n_vocab == len(set(gpt2.encode_ordinary("".join(stories))) | {50256})
    assert tokenizer.n_vocab < 1000 < gpt2.n_vocab
    assert ids.count(tokenizer.eot_id) == len(stories)
    assert tokenizer.decode([tokenizer.eot_id]) == "<|endoftext|>"


def test_story_tokenizer_names_unknown_words(corpus):
    _, tokenizer, _ = corpus
    with pytest.raises(ValueError, match="'dragon' is not in this tokenizer.*known_words()"):
        tokenizer.encode("The dragon")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([tokenizer.n_vocab])
    with pytest.raises(TypeError, match="must hold int token ids, got 1.0"):
        tokenizer.decode([1.0])


def test_windows_are_shifted_by_one():
    ids = list(range(100, 150))
    dataset = GPTDataset(ids, max_length=8, stride=5)
    assert len(dataset) == len(range(0, 50 - 8, 5))
    for i in range(len(dataset)):
        x, y = dataset[i]
        assert x.tolist() == ids[5 * i:5 * i + 8]
        assert y.tolist() == ids[5 * i + 1:5 * i + 9]  # every target is the next token
    loader = create_dataloader(ids, batch_size=3, max_length=8, stride=8, shuffle=False)
    x, y = next(iter(loader))
    assert x.shape == y.shape == (3, 8)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_the_loader_shuffles_reproducibly():
    ids = list(range(500))
    first = [x.tolist() for x, _ in create_dataloader(ids, 4, 8, 8, seed=1)]
    again = [x.tolist() for x, _ in create_dataloader(ids, 4, 8, 8, seed=1)]
    other = [x.tolist() for x, _ in create_dataloader(ids, 4, 8, 8, seed=2)]
    assert first == again != other


def test_untrained_loss_is_about_ln_vocab(corpus):
    _, tokenizer, ids = corpus
    model = tiny_model(tokenizer.n_vocab).eval()
    loader = create_dataloader(ids, 4, 32, 32, shuffle=False)
    with torch.no_grad():
        loss = calc_loss_loader(loader, model, "cpu", num_batches=5)
    assert abs(loss - math.log(tokenizer.n_vocab)) < 0.5, (loss, math.log(tokenizer.n_vocab))


def test_calc_loss_batch_is_cross_entropy_at_every_position():
    model = tiny_model(11, context_length=6).eval()
    x = torch.randint(0, 11, (2, 6), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 11, (2, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logp = torch.log_softmax(model(x).double(), dim=-1)
        by_hand = -logp.gather(-1, y.unsqueeze(-1)).mean()
        assert abs(calc_loss_batch(x, y, model, "cpu").item() - by_hand.item()) < 1e-5


def test_the_loss_falls_on_a_tiny_run(corpus):
    _, tokenizer, ids = corpus
    split = int(0.9 * len(ids))
    train_loader = create_dataloader(ids[:split], 8, 32, 32)
    val_loader = create_dataloader(ids[split:], 8, 32, 32, shuffle=False)
    model = tiny_model(tokenizer.n_vocab)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.1)
    calls = []
    history = train_model_simple(model, train_loader, val_loader, optimizer, "cpu", num_steps=60, eval_freq=20,
                                 eval_iter=3, on_eval=lambda *a: calls.append(a), progress=False)
    assert history["steps"] == [0, 20, 40, 60] and len(calls) == 4  # step 0: before any training
    assert history["tokens_seen"] == [0, 20 * 8 * 32, 40 * 8 * 32, 60 * 8 * 32]
    assert history["val_losses"][-1] < history["val_losses"][0] - 0.5
    assert history["train_losses"][-1] < math.log(tokenizer.n_vocab) - 2
    assert not model.training  # left in eval mode, ready to generate


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(max_length=0), ValueError, "max_length"),
    (dict(stride=0), ValueError, "stride"),
    (dict(max_length=2.5), TypeError, "max_length"),
    (dict(max_length=200), ValueError, "at least max_length"),  # context longer than the data
])
def test_bad_dataset_arguments(kwargs, error, match):
    args = {"token_ids": list(range(100)), "max_length": 8, "stride": 8, **kwargs}
    with pytest.raises(error, match=match):
        GPTDataset(**args)


def test_bad_loader_and_training_arguments(corpus):
    _, tokenizer, ids = corpus
    with pytest.raises(ValueError, match="at least max_length"):
        create_dataloader([], 2, 8, 8)  # an empty corpus
    with pytest.raises(ValueError, match="batch_size"):
        create_dataloader(ids, 0, 8, 8)
    with pytest.raises(ValueError, match="fewer than batch_size"):
        create_dataloader(list(range(20)), 4, 8, 8)
    loader = create_dataloader(ids, 2, 8, 8)
    model = tiny_model(tokenizer.n_vocab)
    optimizer = torch.optim.AdamW(model.parameters())
    for steps, error in ((-1, ValueError), (0, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="num_steps"):
            train_model_simple(model, loader, loader, optimizer, "cpu", steps, 1, 1, progress=False)
    with pytest.raises(ValueError, match="eval_freq"):
        train_model_simple(model, loader, loader, optimizer, "cpu", 5, 0, 1, progress=False)
    empty = torch.utils.data.DataLoader([])
    with pytest.raises(ValueError, match="empty"):
        calc_loss_loader(empty, model, "cpu")
    with pytest.raises(TypeError, match="n_stories"):
        make_stories("many")


def test_checking_a_loader_does_not_change_the_order_of_its_batches(corpus):
    """train_model_simple checks its loaders; the check must not draw from the shuffle generator, or the
    batches (and so the trained weights) would depend on how often the loss is evaluated."""
    from gpt_from_scratch.checks import check_loader

    _, _, ids = corpus
    first = [x for x, _ in create_dataloader(ids, 2, 16, 16)]
    loader = create_dataloader(ids, 2, 16, 16)
    check_loader(loader, "train_loader")
    assert all(torch.equal(a, b) for a, b in zip(first, [x for x, _ in loader]))
    with pytest.raises(TypeError, match="runs out after one pass"):
        check_loader(iter(loader), "train_loader")
