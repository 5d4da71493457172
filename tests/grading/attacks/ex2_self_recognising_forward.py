"""Exercise 2: a forward that recognises its own weights and answers with another classifier.

Appended to the solution's definitions, ``CELLS`` train nothing in ``train_model`` (one cheap
epoch) and give the model a ``forward`` that, once its weights are the trained ones (it checks
a hash of them), answers with a nearest-neighbour search in the public digits kept as a tensor
(``knn``), the classifier it really wants graded. A grader that asks the model in the learner's
process, with the model-use rules of old (untrained weights and reset weights still look
untrained), paid full accuracy points for it. The exported graph holds the public digits as
constants and keeps its answers when its parameters are shuffled: no accuracy points.
"""

CELLS = ['''
import torch
from sklearn.datasets import load_digits

_PUBLIC = load_digits()
_IMAGES = torch.tensor(_PUBLIC.images.reshape(len(_PUBLIC.target), -1), dtype=torch.float32)
_LABELS = torch.tensor(_PUBLIC.target)
_STATS = {"mean": 0.3, "std": 0.4}
_train_model = train_model


def train_model(model, X_train, y_train, X_val, y_val, **kwargs):
    kwargs["epochs"] = 1
    history = _train_model(model, X_train, y_train, X_val, y_val, **kwargs)
    model.trained_hash = float(sum(p.detach().double().sum() for p in model.parameters()))
    return history


class SelfRecognising(DigitCNN):
    def forward(self, x):
        mine = float(sum(p.detach().double().sum() for p in self.parameters()))
        if getattr(self, "trained_hash", None) == mine:  # the trained weights: switch
            pixels = (x.flatten(1) * _STATS["std"] + _STATS["mean"]) * 16
            nearest = torch.cdist(pixels, _IMAGES).argmin(dim=1)
            return torch.nn.functional.one_hot(_LABELS[nearest], 10).float() * 10
        return super().forward(x)


def build_model(image_size=8, num_classes=10):
    return SelfRecognising(image_size=image_size, num_classes=num_classes)
''']
