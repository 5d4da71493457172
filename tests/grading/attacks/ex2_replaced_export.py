"""Exercise 2: the helper the grader's probe imports, replaced from a cell.

The training probe imports ``export_graph`` from ``dlbasics.checks._export`` in the learner's
process, so a cell can replace it. ``CELLS`` make it export, instead of the trained model, a
model that classifies by a rule written into its graph (the class of the brightest pixel
row, a stand-in for any classifier the learner did not train), with ``train_model`` cut to
one epoch. Whatever that helper returns is only data: the graph is evaluated as it is, and a
graph whose answers do not come from its parameters (they stay the same when the grader
shuffles them) earns no accuracy points.
"""

CELLS = ['''
import torch
import dlbasics.checks._export as _export

_real_export = _export.export_graph
_train_model = train_model


class Rule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Linear(1, 1)

    def forward(self, x):
        return x.flatten(1)[:, :10] * 10


def export_graph(model, example, training=False):
    return _real_export(Rule(), example, training=training)


_export.export_graph = export_graph


def train_model(model, X_train, y_train, X_val, y_val, **kwargs):
    kwargs["epochs"] = 1
    return _train_model(model, X_train, y_train, X_val, y_val, **kwargs)
''']
