r"""Deep Learning Basics: reference implementations for the course.

Everything the book teaches lives here once: NumPy implementations written
from scratch, their PyTorch counterparts, datasets that need no network, plots
and widgets.

PyTorch is imported lazily: ``import dlbasics`` stays fast, and the NumPy
parts work where PyTorch is not installed.

Conventions
-----------
Every module, chapter and exercise follows this glossary; a name means the same
thing wherever it appears.

Arrays and case
    Batch first. What a *model* or a *training loop* receives is upper case:
    the data matrix ``X`` ``(n_samples, n_features)``, and the per-layer lists a
    network holds (``W``/``weights``, ``Z``, ``A``, their gradients ``dW``,
    ``db``); labels are ``y`` ``(n_samples,)``. Inside a *layer function* every
    array is lower case: ``x``, ``w``, ``b``, ``out``, ``dout``, ``dx``, ``dw``,
    ``db`` (a dense ``w`` is ``(n_out, n_in)`` like :class:`torch.nn.Linear`).
    Sizes: ``n`` samples, ``c`` channels, ``h``/``w`` only as *shape* names in
    docstrings (in code: ``ih, iw`` input, ``kh, kw`` kernel, ``oh, ow``
    output height and width), ``T`` steps, ``D`` input features, ``H`` hidden units.
Verbs and their contracts
    A layer function is a pair ``x_forward(...) -> (out, cache)`` and
    ``x_backward(dout, cache) -> grads`` (what else the forward pass computes,
    such as attention weights, is in the cache: ``cache.weights``). A model's
    ``forward(X)`` returns its output; ``forward_with_cache(X)`` returns
    ``(out, cache)``; its ``backward(dout[, cache])`` takes the gradient of the
    loss with respect to that output. A different contract has another name:
    ``MLP.gradients(X, y)`` runs the forward pass, the loss and the backward
    pass in one call. The glossary test checks every public signature.
Hyper-parameters (PyTorch's names)
    ``lr`` the learning rate :math:`\eta`; ``momentum`` :math:`\mu`; ``eps`` the
    small constant :math:`\epsilon` of a denominator; ``weight_decay`` the L2
    (or L1) strength :math:`\lambda`, adding :math:`\lambda W` (or
    :math:`\lambda\,\mathrm{sign}\,W`) to the gradient of the weights;
    RMSprop's decay ``alpha``; Adam's ``betas``, the pair ``(beta1, beta2)``; ``dropout``
    the probability of dropping a unit; ``epochs``, ``batch_size``.
Randomness
    ``seed: int = 0`` seeds a new generator. ``rng`` accepts a
    :class:`numpy.random.Generator` (used as it is, continuing its stream), an int
    seed, or ``None``; its default is ``None``, which means seed 0
    (:func:`dlbasics.validation.as_generator`). Nothing draws entropy from the
    operating system, so every result repeats.
dtypes
    The caller's floating dtype is kept (no silent upcast). Data, trained models
    and their layers default to float32 (``MLP``, ``BatchNorm``, the datasets);
    the chapter 2-4 teaching networks (``SimpleNeuralNetwork``,
    ``NeuralNetworkWithBackprop``), whose gradients the book checks by finite
    differences, default to float64. Gradient checks run in float64.
Checks
    Arguments are checked once, where a learner's data enters, through
    :mod:`dlbasics.validation` (``check_int``, ``check_choice``,
    ``check_dtype``, ...); the maths below runs bare.
"""

from __future__ import annotations

from dlbasics._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # activations
    "sigmoid": "activations",
    "sigmoid_derivative": "activations",
    "relu": "activations",
    "relu_derivative": "activations",
    "tanh": "activations",
    "tanh_derivative": "activations",
    "leaky_relu": "activations",
    "leaky_relu_derivative": "activations",
    "softmax": "activations",
    "gelu": "activations",
    "gelu_derivative": "activations",
    "get_activation": "activations",
    "ACTIVATIONS": "activations",
    # losses
    "mse_loss": "losses",
    "mse_loss_grad": "losses",
    "binary_cross_entropy_with_logits": "losses",
    "binary_cross_entropy_with_logits_grad": "losses",
    "softmax_cross_entropy": "losses",
    "softmax_cross_entropy_grad": "losses",
    # layers
    "dense_forward": "layers",
    "dense_backward": "layers",
    "conv2d_forward": "layers",
    "conv2d_backward": "layers",
    "maxpool2d_forward": "layers",
    "maxpool2d_backward": "layers",
    # batch normalization
    "batchnorm_forward": "normalization",
    "batchnorm_backward": "normalization",
    "BatchNorm": "normalization",
    # layer normalization
    "layernorm_forward": "normalization",
    "layernorm_backward": "normalization",
    "LayerNorm": "normalization",
    # data augmentation for images
    "shift_images": "augmentation",
    "rotate_images": "augmentation",
    "random_shift": "augmentation",
    "random_rotation": "augmentation",
    "random_flip": "augmentation",
    "augment_images": "augmentation",
    # networks
    "SimpleNeuralNetwork": "networks",
    "NeuralNetworkWithBackprop": "networks",
    "MLP": "networks",
    "History": "history",
    # optimizers
    "SGD": "optim",
    "Adam": "optim",
    "RMSprop": "optim",
    # learning-rate schedules
    "StepLR": "lr_scheduler",
    "CosineAnnealingLR": "lr_scheduler",
    "LinearLR": "lr_scheduler",
    "SequentialLR": "lr_scheduler",
    # regularization
    "l1_regularization": "regularization",
    "l2_regularization": "regularization",
    "l1_regularization_grad": "regularization",
    "l2_regularization_grad": "regularization",
    "dropout_mask": "regularization",
    "apply_dropout": "regularization",
    "EarlyStopping": "regularization",
    # gradient checking
    "numerical_gradient": "gradcheck",
    "rel_error": "gradcheck",
    "gradcheck": "gradcheck",
    # datasets
    "make_xor": "datasets",
    "make_spirals": "datasets",
    "make_moons": "datasets",
    "make_circles": "datasets",
    "load_digits": "datasets",
    "train_val_test_split": "datasets",
    "standardize": "datasets",
    "one_hot": "datasets",
    "iterate_minibatches": "datasets",
    "load_mnist": "mnist",
    # installing the course: PyTorch is the `torch` extra
    "require_torch": "install",
    # PyTorch counterparts (import torch on first use)
    "SimpleNN": "torch_models",
    "SimpleCNN": "torch_models",
    "fit": "torch_models",
    "evaluate": "torch_models",
    "seed_everything": "torch_models",
    # text: tokenizer, vocabulary, padding, a sentiment corpus where word order matters
    "tokenize": "text",
    "Vocabulary": "text",
    "pad_sequences": "text",
    "make_sentiment_corpus": "text",
    "sentiment_label": "text",
    "swap_clauses": "text",
    "SENTIMENT_KINDS": "text",
    # a made-up language for character-level language models (Exercise 4)
    "make_toy_text": "toy_language",
    "encode_chars": "toy_language",
    "decode_chars": "toy_language",
    "TOY_ALPHABET": "toy_language",
    # sequence models: embeddings, recurrent layers, attention pooling, gradient clipping
    "embedding_forward": "embedding",
    "embedding_backward": "embedding",
    "rnn_forward": "recurrent",
    "rnn_backward": "recurrent",
    "lstm_forward": "recurrent",
    "lstm_backward": "recurrent",
    "attention_pool_forward": "attention",
    "attention_pool_backward": "attention",
    "clip_grad_norm": "optim",
    # attention and Transformers: scaled dot-product and multi-head self-attention, positions
    "scaled_dot_product_attention_forward": "self_attention",
    "scaled_dot_product_attention_backward": "self_attention",
    "multi_head_attention_forward": "self_attention",
    "multi_head_attention_backward": "self_attention",
    "sinusoidal_positional_encoding": "positional",
    # public-domain books for character-level language models
    "load_pride_and_prejudice": "books",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra=["__version__"])
