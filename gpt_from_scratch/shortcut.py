"""Notebook 04: a small deep network, with and without shortcut connections, and its gradients."""

import torch.nn as nn

from .checks import check_features, check_layer_gradients_args, check_layer_sizes
from .feedforward import GELU


class ExampleDeepNeuralNetwork(nn.Module):
    """A stack of Linear + GELU layers; with `use_shortcut`, each layer adds its input to its output."""

    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        check_layer_sizes(layer_sizes, use_shortcut)
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(n_in, n_out), GELU())
            for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
        ])

    def forward(self, x):
        check_features(x, self.layers[0][0])
        for layer in self.layers:
            out = layer(x)
            # A shortcut needs matching shapes: the last layer (3 -> 1) is never bypassed.
            if self.use_shortcut and x.shape == out.shape:
                x = x + out
            else:
                x = out
        return x


def layer_gradients(model, x, target):
    """Backpropagate an MSE loss once and return {weight name: mean |gradient|} for every layer."""
    check_layer_gradients_args(model, x, target)
    model.zero_grad()
    loss = nn.functional.mse_loss(model(x), target)
    loss.backward()
    return {
        name: param.grad.abs().mean().item()
        for name, param in model.named_parameters()
        if name.endswith("weight")
    }
