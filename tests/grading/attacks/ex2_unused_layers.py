"""Exercise 2: batch normalization and dropout registered in ``__init__``, never used in forward.

A grader that lists the model's modules by class credits layers that are merely registered.
``CELLS`` define a CNN that registers ``nn.BatchNorm2d`` and ``nn.Dropout`` and imitates their
effect on the outputs without them (a per-batch centring in training mode, noise in training
mode). The layer part is judged from the exported graph: neither operation is in what forward
computes, so each earns nothing.
"""

CELLS = ['''
import torch
from torch import nn


class Pretender(nn.Module):
    def __init__(self, image_size=8, num_classes=10):
        super().__init__()
        side = image_size // 4
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
        self.norm, self.drop = nn.BatchNorm2d(16), nn.Dropout(0.25)  # registered, never used
        self.pool, self.out = nn.MaxPool2d(2), nn.Linear(32 * side * side, num_classes)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv1(x)))
        if self.training:
            h = h - h.mean(dim=0, keepdim=True) + 0.1 * torch.randn_like(h)
        return self.out(self.pool(torch.relu(self.conv2(h))).flatten(1))


def build_model(image_size=8, num_classes=10):
    return Pretender(image_size, num_classes)
''']
