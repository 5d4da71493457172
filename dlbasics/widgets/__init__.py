"""Interactive explorers (ipywidgets) for the chapters, one module per topic.

Each explorer returns an :class:`~dlbasics.widgets.display.Explorer`, which a
notebook displays as its widget. All of them are built by
:func:`dlbasics.widgets.display.explorer`: their figures are drawn ahead for
every value their controls offer and switched in the browser, so they work on
the static pages of the book with no Python kernel; in a live kernel
``explorer.show(**values)`` draws any other values. Every chapter that shows an
explorer also draws a static figure of the same idea for the printed book.

Imports are lazy: ``import dlbasics.widgets`` does not import ipywidgets or
Matplotlib until an explorer is used.
"""

from __future__ import annotations

from dlbasics._lazy import lazy_exports

# public name -> module (inside dlbasics.widgets) that defines it
_EXPORTS: dict[str, str] = {
    "Explorer": "display",
    "optimizer_race": "optimizers",
    "plot_learning_rate_grid": "optimizers",
    "regularization_explorer": "regularization",
    "train_regularization_grid": "regularization",
    "plot_regularization_grid": "regularization",
    "neuron_explorer": "neuron",
    "plot_neuron": "neuron",
    "architecture_explorer": "architecture",
    "draw_network": "architecture",
    "draw_layer_product": "architecture",
    "activation_explorer": "activations",
    "backprop_explorer": "backprop",
    "feature_map_explorer": "pytorch",
    "plot_feature_maps": "pytorch",
    "conv_feature_maps": "pytorch",
    "convolution_explorer": "convolution",
    "plot_convolution": "convolution",
    "plot_convolution_grid": "convolution",
    "attention_explorer": "attention",
    "attention_weights": "attention",
    "plot_attention": "attention",
    "attention_head_explorer": "attention_heads",
    "plot_attention_head": "attention_heads",
    "plot_attention_heads": "attention_heads",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
