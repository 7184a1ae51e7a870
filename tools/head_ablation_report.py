"""Print the head-ablation figures of the shipped story model (notebook 10's "what attention learned").

    python tools/head_ablation_report.py [n_stories]     # default 200 stories of make_stories(n, seed=2024)

For every (layer, head): the loss at the object targets and elsewhere with that head zeroed, the
substitution test with that head zeroed, and the mean attention on the object's first mention from
object-target positions and from all other positions; then the two heads that attend most, zeroed together.
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpt_from_scratch import load_trained_gpt  # noqa: E402
from gpt_from_scratch.interpret import (  # noqa: E402
    ablate_head, attention_to_first_mention, head_ablation_table, object_losses, object_stories, object_token_ids,
    padded_batch, substitution_test)
from gpt_from_scratch.stories import make_stories  # noqa: E402


def main(n_stories=200):
    model, tokenizer = load_trained_gpt()
    stories = make_stories(n_stories, seed=2024)
    try:
        tokenizer.encode(" an")
    except ValueError:  # a model trained before the grammar wrote "an old town"
        stories = [re.sub(r"\ban (?=[aeiou])", "a ", s) for s in stories]
    rows = object_stories(stories, tokenizer)
    batch = padded_batch(rows, tokenizer.eot_id)
    object_ids = object_token_ids(tokenizer)
    to_object, control = attention_to_first_mention(model, rows, tokenizer.eot_id)
    print(f"{len(rows)} stories with a one-token object, {int(batch[2].sum())} object targets, "
          f"{int((batch[1] != -100).sum())} positions")
    print("layer head | loss: object  other | substitution: new   old | attention: object  control")
    for layer, head, obj, other in head_ablation_table(model, *batch):
        if layer is None:
            new, old = substitution_test(model, rows, object_ids, tokenizer.eot_id)
            print(f"  intact   |      {obj:7.3f} {other:6.3f} |             {new:5.3f} {old:5.3f} |")
            continue
        with ablate_head(model, layer, head):
            new, old = substitution_test(model, rows, object_ids, tokenizer.eot_id)
        print(f"{layer:5d} {head:4d} |      {obj:7.3f} {other:6.3f} |             {new:5.3f} {old:5.3f} |"
              f"          {to_object[layer, head]:.3f}  {control[layer, head]:.3f}")
    top = sorted(((float(to_object[l, h]), l, h) for l in range(to_object.shape[0])
                  for h in range(to_object.shape[1])), reverse=True)[:2]
    (_, l1, h1), (_, l2, h2) = top
    with ablate_head(model, l1, h1), ablate_head(model, l2, h2):
        obj, other = object_losses(model, *batch)
        new, old = substitution_test(model, rows, object_ids, tokenizer.eot_id)
    print(f"{l1}.{h1} and {l2}.{h2} zeroed together: loss object {obj:.3f} other {other:.3f}; "
          f"substitution new {new:.3f} old {old:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
