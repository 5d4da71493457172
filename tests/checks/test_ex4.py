"""Exercise 4's public checks read what the grader reads: the exported graph.

The grader decides whether a part runs PyTorch's own attention from the part's traced graph,
evaluated where no learner code runs (``hidden_exercises/ex4.py``); the public checks export
the same graph and say so first, whether the attention is named, hidden from the scan, or
swapped for another computation while ``torch.jit`` traces.
"""

from __future__ import annotations

import pytest

from ..grading.test_ex4 import FORBIDDEN_ATTENTION
from ..helpers import SOLUTIONS, definition_cells, namespace_of

NOTEBOOK = "ex4_transformer.ipynb"
SCORES_LINE = ("        scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)        "
               "# (batch, heads, T, T)\n")
CHECKS = {"ex4.attention": "MultiHeadSelfAttention", "ex4.block": "TransformerBlock",
          "ex4.model": "CharTransformer"}


def _namespace(change: str | None = None) -> dict:
    cells = definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                             change=((SCORES_LINE, change),) if change else ())
    return namespace_of(cells)


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_solution_passes_with_its_exported_graph(name):
    from dlbasics.checks import run

    outcome = run(name, _namespace()[CHECKS[name]])
    assert outcome.ok, outcome


TRACED_OTHERWISE = ("        if torch.jit.is_tracing():\n"
                    "            return self.out(v.transpose(1, 2).reshape(batch, T, d_model))\n"
                    + SCORES_LINE)
"""Right attention when called, another computation when traced."""


@pytest.mark.parametrize("name", list(CHECKS))
def test_pytorch_attention_hidden_from_the_scan_is_found(name):
    from dlbasics.checks import run

    outcome = run(name, _namespace(FORBIDDEN_ATTENTION["hidden from the scan"])[CHECKS[name]])
    assert not outcome.ok and "PyTorch's own attention" in outcome.message, outcome


@pytest.mark.parametrize("name", list(CHECKS))
def test_a_graph_other_than_the_call_is_found(name):
    from dlbasics.checks import run

    outcome = run(name, _namespace(TRACED_OTHERWISE)[CHECKS[name]])
    assert not outcome.ok and "computes something other" in outcome.message, outcome
