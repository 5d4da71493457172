"""Exercise 3: labels from a model of the submission's own, not from the model it is given.

Appended to the solution's definitions, ``CELLS`` make ``train_model`` leave the model it is
given untouched and train a private ``SentimentClassifier`` instead (kept in a global, as a
learner whose own classifier does not train might), and ``predict`` label every review with that
private model, whatever model it is passed. The held-out accuracy is the solution's, so without
the rule that the labels must come from the given model it would earn full accuracy points.

(A bag-of-words classifier fitted on the training reviews that ``train_model`` sees is the other
way to ignore the model; on the grader's reviews it stays near 0.5 for single words and 0.75
for one- to three-word n-grams, below the lowest accuracy tier, so it earns nothing anyway.)
"""

CELLS = ['''
import torch

_PRIVATE = {}
_train_model = train_model


def train_model(model, ids_train, y_train, ids_val, y_val, **kwargs):
    vocab_size = int(max(ids_train.max(), ids_val.max())) + 1
    torch.manual_seed(0)
    private = SentimentClassifier(vocab_size)
    _PRIVATE["model"] = private
    return _train_model(private, ids_train, y_train, ids_val, y_val, **kwargs)


_predict = predict


def predict(model, ids, batch_size=512):
    return _predict(_PRIVATE.get("model", model), ids, batch_size)
''']
