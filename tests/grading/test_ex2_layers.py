"""Exercise 2's layer part judges each layer by what the model's exported graph computes.

The probes run here, in this process (the learner's half exports the graphs, the evaluation
half runs them), on models built to fool a check by names: a class renamed into torch's
dropout module that does nothing, a "batch norm" with a running buffer it bumps but never
uses, real layers registered but never used in ``forward``, and the real layers used the wrong
way round.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbasics_grader.engine import load_hidden_module
from dlbasics_grader.spec import ProbeResult

from ..helpers import HIDDEN


class ForgedDropout(nn.Module):
    """Claims to be torch's dropout; passes its input through."""

    def forward(self, x):
        return x


ForgedDropout.__module__ = "torch.nn.modules.dropout"


class ForgedBatchNorm(nn.Module):
    """Claims to be torch's batch norm and changes a running buffer; never normalizes."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(channels))

    def forward(self, x):
        self.running_mean += 1
        return x


ForgedBatchNorm.__module__ = "torch.nn.modules.batchnorm"
ForgedBatchNorm.__qualname__ = "_BatchNorm"


class AlwaysTraining(nn.Module):
    """Batch statistics and dropout whatever the mode."""

    def __init__(self):
        super().__init__()
        self.conv, self.pool, self.out = nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2), \
            nn.Linear(256, 10)

    def forward(self, x):
        h = self.pool(F.relu(F.batch_norm(self.conv(x), None, None, training=True)))
        return self.out(F.dropout(h.flatten(1), 0.3, training=True))


def _real(image_size=8, num_classes=10):
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                         nn.Linear(16 * 16, num_classes))


class Unused(nn.Module):
    """Registers batch normalization and dropout, and never calls them in forward."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm, self.pool = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), \
            nn.MaxPool2d(2)
        self.drop, self.out = nn.Dropout(0.25), nn.Linear(256, 10)

    def forward(self, x):
        return self.out(self.pool(F.relu(self.conv(x))).flatten(1))


def _forged(image_size=8, num_classes=10):
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), ForgedBatchNorm(16), nn.ReLU(),
                         nn.MaxPool2d(2), ForgedDropout(), nn.Flatten(),
                         nn.Linear(16 * 16, num_classes))


@pytest.fixture(scope="module")
def layers():
    mod = load_hidden_module("ex2", HIDDEN)
    ex = mod.EXERCISE
    probe = next(p for p in ex.probes(ex.seed) if p.name == "layers_probe")
    evaluation = next(e for e in ex.evaluations if e.name == "layers").probe(ex.seed)

    def score(build):
        graphs = mod.layers_probe({"build_model": build}, probe.inputs)
        out = mod.layers_graph_probe({}, {**evaluation.inputs, **graphs})
        return mod._score_layers(ex.part("ex2.layers"), ProbeResult("layers", "ok", out))

    return score


def test_real_dropout_and_batch_norm_pass(layers):
    result = layers(_real)
    assert result.score == 2.0, result.output


def test_forged_names_and_buffers_score_nothing(layers):
    result = layers(_forged)
    assert result.score == 1.0  # convolution and pooling only
    assert "no dropout in what forward computes" in result.output
    assert "no batch normalization in what forward computes" in result.output


def test_layers_registered_but_not_used_score_nothing(layers):
    result = layers(lambda image_size=8, num_classes=10: Unused())
    assert result.score == 1.0  # convolution and pooling only
    assert "no dropout in what forward computes" in result.output
    assert "no batch normalization in what forward computes" in result.output


def test_layers_that_never_leave_training_mode_score_nothing(layers):
    result = layers(lambda image_size=8, num_classes=10: AlwaysTraining())
    assert result.score == 1.0
    assert "in evaluation mode two forward passes differ" in result.output
    assert "in evaluation mode an image's output depends on the rest of the batch" in result.output
