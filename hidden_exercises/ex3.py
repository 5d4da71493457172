"""Hidden tests of Exercise 3: text classification with an LSTM and attention (PyTorch).

Not shipped to students. The probes below run inside the sandbox and only
call the learner's code; reference values, the held-out labels and the
thresholds stay in this module, in the grader.

The reviews come from ``dlbasics.make_sentiment_corpus`` seeded from the
grading key (``dlbasics_grader.secret``; the held-out ones from a stream of
their own), and every word is replaced by a made-up one (a bijection the key
chooses; punctuation stays): the grammar, and so the task, is the same,
but the public labelling rule (``dlbasics.sentiment_label``) cannot read them
and a model has to learn the language from the training reviews.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from dlbasics.checks._training import loop_inputs, training_loop_probe
from dlbasics_grader.heldout import graph_probe
from dlbasics_grader.scoring import score_training_run
from dlbasics_grader.secret import exercise_seed, public_seed, stream
from dlbasics_grader.spec import Evaluation, Exercise, Part, Probe, SandboxPolicy, as_array, compare_arrays

from . import _common
from ._common import TORCH_LIMITS, bullets, not_implemented, score_parts, trained_outputs, verdict

SEED = exercise_seed("ex3", Path(__file__).parent)  # 256 bits from the grading key

N_TRAIN, N_VAL, N_TEST = 2000, 400, 1000
ACC_FULL = 0.90  # the solution reaches 0.998-1.0; no bag-of-words model can pass ~0.83
ACC_TIERS = ((0.90, 3.0), (0.80, 1.0))
CPU_BUDGET_S = 60.0
"""CPU seconds (one thread) for everything the notebook runs: its cells and the grader's
training run, measured from outside the sandbox."""
CHANCE_MAX = 0.7
"""Highest held-out accuracy the exported model may reach with its parameters shuffled (an
untrained classifier is near 50 %; a bag-of-words model, about 83 %)."""
EVAL_BATCH = 50  # the trained model is traced, and evaluated, on batches of this many reviews

TRAINING_PART, ACCURACY_PART = _common.training_parts("ex3", ACC_FULL)
PARTS = (
    Part("ex3.encode", 1.0, "Padded token ids and mask"),
    Part("ex3.attention", 3.0, "Attention weights sum to 1 and are 0 on padding",
         full_credit="Weights are >= 0, sum to 1, are exactly 0 on padding, ignore what the padding holds, "
                     "and the context is the weighted sum of h."),
    Part("ex3.model", 2.0, "Classifier output shapes; predictions ignore padding",
         full_credit="Logits (batch, num_classes) and weights (batch, length); a review gets the same "
                     "logits alone and padded."),
    Part("ex3.gradients", 2.0, "Gradient flows to the embedding and the LSTM"),
    TRAINING_PART,
    ACCURACY_PART,
)

POLICY = SandboxPolicy(
    forbidden_modules=("torchvision", "torchtext"),
    reason="Exercise 3 uses PyTorch's own layers (torchvision and torchtext are not part of "
    "the course)",
    preload=("numpy", "matplotlib.pyplot", "torch"),
    allow_processes=False,
)

LIMITS = TORCH_LIMITS
LOOP_INPUTS = loop_inputs("ids")  # the probe model's data (public)


# ----------------------------------------------------------------------------
# Drivers: run in the sandbox. Self-contained; they only call the learner's code.
# ----------------------------------------------------------------------------


def encode_probe(ns, inputs):
    import torch

    from dlbasics.text import Vocabulary

    vocab = Vocabulary(inputs["tokens"])
    out = {}
    for key, max_len in (("full", None), ("cut", inputs["max_len"])):
        try:
            ids, mask = ns["encode_texts"](list(inputs["texts"]), vocab, max_len)
            for name, t in (("ids", ids), ("mask", mask)):
                out[f"{key}_{name}_type"] = f"{type(t).__module__}.{type(t).__name__}"
                out[f"{key}_{name}_dtype"] = str(getattr(t, "dtype", ""))
                out[f"{key}_{name}"] = t.detach().numpy() if isinstance(t, torch.Tensor) else t
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    return out


def attention_probe(ns, inputs):
    import torch

    torch.manual_seed(0)
    layer = ns["AdditiveAttention"](inputs["hidden_dim"])
    h = torch.from_numpy(inputs["h"])
    h_noisy = torch.from_numpy(inputs["h_noisy"])
    mask = torch.from_numpy(inputs["mask"])
    out = {}
    with torch.no_grad():
        for key, x in (("clean", h), ("noisy", h_noisy)):
            context, weights = layer(x, mask.clone())
            out[f"{key}_context"] = context.detach().numpy()
            out[f"{key}_weights"] = weights.detach().numpy()
    return out


def model_probe(ns, inputs):
    import torch

    torch.manual_seed(0)
    Model = ns["SentimentClassifier"]
    ids = torch.from_numpy(inputs["ids"])
    lengths = inputs["lengths"]
    out = {}
    model = Model(inputs["vocab_size"])
    model.eval()
    with torch.no_grad():
        logits, weights = model(ids)
        out["logits"] = logits.detach().numpy()
        out["weights"] = weights.detach().numpy()
        extra = torch.cat([ids, torch.zeros(ids.shape[0], 5, dtype=ids.dtype)], dim=1)
        out["logits_extra"] = model(extra)[0].detach().numpy()
        out["logits_alone"] = torch.cat(
            [model(ids[i:i + 1, :n])[0] for i, n in enumerate(lengths)]).detach().numpy()
    three = Model(inputs["vocab_size"], num_classes=3)
    three.eval()
    with torch.no_grad():
        out["logits_3"] = three(ids)[0].detach().numpy()
    return out


def gradient_probe(ns, inputs):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    model = ns["SentimentClassifier"](inputs["vocab_size"])
    model.train()
    logits, _ = model(torch.from_numpy(inputs["ids"]))
    loss = F.cross_entropy(logits, torch.from_numpy(inputs["labels"]))
    loss.backward()
    out = {"loss": float(loss.item())}
    # per module of each kind: the gradient norm of each trainable parameter (None: no
    # gradient); the grader decides what they mean
    for key, kind in (("embedding", nn.Embedding), ("lstm", nn.LSTM)):
        out[f"{key}_grads"] = [
            [None if p.grad is None else float(p.grad.detach().double().norm().item())
             for p in m.parameters() if p.requires_grad]
            for m in model.modules() if isinstance(m, kind)]
    out["grads"] = [[name, None if p.grad is None else float(p.grad.detach().double().norm())]
                    for name, p in model.named_parameters() if p.requires_grad]
    return out


def training_probe(ns, inputs):
    return trained_outputs(ns, inputs, lambda: ns["SentimentClassifier"](int(inputs["vocab_size"])))


# ----------------------------------------------------------------------------
# Grader-side data and references
# ----------------------------------------------------------------------------


def _made_up_words(n: int, rng: np.random.Generator) -> list[str]:
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        syllables = int(rng.integers(2, 4))
        word = "".join(consonants[rng.integers(len(consonants))] + vowels[rng.integers(5)]
                       for _ in range(syllables))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _disguise(texts: list[str], rng: np.random.Generator) -> list[str]:
    """Replace every word by a made-up one (the same word always by the same one)."""
    from dlbasics.text import tokenize

    lexicon = sorted({t for text in texts for t in tokenize(text) if t.isalnum()})
    code = dict(zip(lexicon, _made_up_words(len(lexicon), rng), strict=True))
    return [" ".join(code.get(t, t) for t in tokenize(text)) for text in texts]


def _seed_of(rng: np.random.Generator) -> int:
    """A 128-bit seed for the public corpus generator, drawn from a secret stream."""
    return int.from_bytes(rng.bytes(16), "big")


def _corpus(seed: int):
    """Training and validation reviews, then held-out ones from an independent stream."""
    from dlbasics.text import make_sentiment_corpus

    texts, labels = make_sentiment_corpus(N_TRAIN + N_VAL, seed=_seed_of(stream(seed, "train")))
    held_out, y_test = make_sentiment_corpus(N_TEST, seed=_seed_of(stream(seed, "held-out")))
    texts = _disguise(texts + held_out, stream(seed, "word code"))
    a, b = N_TRAIN, N_TRAIN + N_VAL
    return (texts[:a], labels[:a]), (texts[a:b], labels[a:]), (texts[b:], y_test)


def _encode_case(seed: int) -> dict:
    from dlbasics.text import Vocabulary, make_sentiment_corpus

    texts, _ = make_sentiment_corpus(40, seed=_seed_of(stream(seed, "encode")))
    vocab = Vocabulary.from_texts(texts[:30], min_freq=2)  # some words of texts[30:] are <unk>
    rng = stream(seed, "encode choice")
    chosen = [texts[i] for i in rng.choice(40, size=7, replace=False)] + ["good .", "zzz"]
    return {"tokens": vocab.itos[2:], "texts": chosen, "max_len": 6}


def _attention_case(seed: int) -> dict:
    rng = stream(seed, "attention")
    lengths = np.array([9, 4, 1, 6, 2])
    mask = np.arange(9)[None, :] < lengths[:, None]
    h = rng.normal(0, 1, (5, 9, 12)).astype(np.float32)
    h_noisy = h.copy()
    h_noisy[~mask] = rng.normal(0, 50, (int((~mask).sum()), 12)).astype(np.float32)
    return {"hidden_dim": 12, "h": h, "h_noisy": h_noisy, "mask": mask}


def _model_case(seed: int) -> dict:
    rng = stream(seed, "model")
    lengths = [10, 7, 3, 1]
    ids = np.zeros((4, 10), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(2, 40, n)
    labels = rng.integers(0, 2, 4).astype(np.int64)
    labels[:2] = [0, 1]
    return {"vocab_size": 40, "ids": ids, "lengths": lengths, "labels": labels}


@functools.lru_cache(maxsize=2)
def encoded_corpus(seed: int):
    """The reviews encoded by the grader: ``Vocabulary.from_texts`` on the training reviews,
    ``encode_batch`` padded to one length for all three sets; ``(vocab_size, (ids, labels) for
    training, validation, held-out)``. The learner's ``encode_texts`` is graded on its own part,
    so a mistake there costs that part only."""
    from dlbasics.text import Vocabulary

    sets = _corpus(seed)
    vocab = Vocabulary.from_texts(sets[0][0])
    ids = [vocab.encode_batch(texts)[0] for texts, _ in sets]
    length = max(x.shape[1] for x in ids)
    padded = [np.pad(x, ((0, 0), (0, length - x.shape[1]))) for x in ids]
    return len(vocab), tuple((x, np.asarray(y, dtype=np.int64))
                             for x, (_, y) in zip(padded, sets, strict=True))


def probes(seed: int) -> list[Probe]:
    vocab_size, ((X_tr, y_tr), (X_val, y_val), _) = encoded_corpus(seed)
    return [  # the training run first: the CPU it and the cells used is the budget's
        Probe.from_function(training_probe, timeout_s=120, helpers=(trained_outputs,), inputs={
            "X_train": X_tr, "y_train": y_tr, "X_val": X_val, "y_val": y_val,
            "vocab_size": vocab_size, "batch": EVAL_BATCH}),
        Probe.from_function(encode_probe, timeout_s=20, inputs=_encode_case(seed)),
        Probe.from_function(attention_probe, timeout_s=20, inputs=_attention_case(seed)),
        Probe.from_function(model_probe, timeout_s=30, inputs=_model_case(seed)),
        Probe.from_function(gradient_probe, timeout_s=30, inputs=_model_case(seed)),
        Probe.from_function(training_loop_probe, name="loop_probe", timeout_s=60,
                            inputs=LOOP_INPUTS),
    ]


def _heldout_probe(seed: int) -> Probe:
    """Where the held-out reviews go: the graph's evaluation, never the learner's sandbox."""
    _, (_, (X_val, _), (X_te, _)) = encoded_corpus(seed)
    return graph_probe({"X_test": X_te, "X_val": X_val}, EVAL_BATCH,
                       reset_seed=public_seed(seed, "reset"), timeout_s=90)


EVALUATIONS = (Evaluation("heldout", source="training_probe", models=("graph",),
                          probe=_heldout_probe),)


# ----------------------------------------------------------------------------
# Scoring (grader only)
# ----------------------------------------------------------------------------


def _score_encode(part: Part, o: dict, seed: int):
    from dlbasics.text import Vocabulary

    case = _encode_case(seed)
    vocab = Vocabulary(case["tokens"])
    problems = []
    for key, max_len in (("full", None), ("cut", case["max_len"])):
        call = f"encode_texts(texts, vocab{'' if max_len is None else f', max_len={max_len}'})"
        if f"{key}_error" in o:
            problems.append(f"{call} raised {o[f'{key}_error']}")
            continue
        ref_ids, _, ref_mask = vocab.encode_batch(case["texts"], max_len=max_len)
        for name, dtype, ref in (("ids", "torch.int64", ref_ids), ("mask", "torch.bool", ref_mask)):
            if o.get(f"{key}_{name}_type") != "torch.Tensor":
                problems.append(f"{call}: {name} should be a torch.Tensor, got "
                                f"{o.get(f'{key}_{name}_type')}")
            elif o.get(f"{key}_{name}_dtype") != dtype:
                problems.append(f"{call}: {name} should have dtype {dtype}, got "
                                f"{o.get(f'{key}_{name}_dtype')}")
            else:
                arr, msg = as_array(o.get(f"{key}_{name}"), name)
                if arr is None:
                    problems.append(f"{call}: {msg}")
                elif arr.shape != ref.shape:
                    problems.append(f"{call}: {name} has shape {arr.shape}, expected {ref.shape} "
                                    "(one row per text, as long as the longest one)")
                elif not np.array_equal(arr, ref):
                    problems.append(f"{call}: {name} is wrong in {int((arr != ref).sum())} of "
                                    f"{ref.size} entries (unknown words -> 1, padding -> 0 at "
                                    "the end)")
    if not problems:
        return part.passed("Padded ids and masks are right, with unknown words, one-token texts "
                           "and max_len.")
    status = "error" if not_implemented(problems) else "failed"
    return part.failed(bullets(problems[:5]), status=status)


def _score_attention(part: Part, o: dict, seed: int):
    case = _attention_case(seed)
    mask, h = case["mask"], case["h"].astype(np.float64)
    w, msg = as_array(o.get("clean_weights"), "the attention weights")
    c, msg_c = as_array(o.get("clean_context"), "the context")
    if w is None or c is None:
        return part.failed(msg or msg_c)
    if w.shape != mask.shape:
        return part.failed(f"For h of shape {h.shape} the weights should have shape "
                           f"{mask.shape} (batch, length), got {w.shape}.")
    if not np.all(np.isfinite(w)):
        return part.failed("The attention weights contain NaN or inf. (A row of all -inf scores "
                           "gives NaN: only padded positions should be masked.)")
    w = w.astype(np.float64)
    score, lines = 0.0, []
    sums = w.sum(axis=1)
    varied = all(np.ptp(w[i, : int(mask[i].sum())]) > 1e-7 for i in range(len(w)) if
                 mask[i].sum() > 1)
    if np.all(w >= 0) and np.allclose(sums, 1.0, atol=1e-5) and varied:
        score += 1.0
    elif not varied:
        lines.append("the weights are the same for every real token: they should come from "
                     "learned scores of h (v . tanh(W h_t + b)), not be uniform")
    else:
        lines.append(f"each row of weights should be >= 0 and sum to 1; the row sums are "
                     f"{np.round(sums, 4).tolist()}")
    w2, _ = as_array(o.get("noisy_weights"), "weights")
    c2, _ = as_array(o.get("noisy_context"), "context")
    on_pad = np.abs(w[~mask]).max() if (~mask).any() else 0.0
    if on_pad != 0.0:
        lines.append(f"padded positions must get exactly 0 weight; the largest is {on_pad:.3g} "
                     "(set their scores to -inf before the softmax)")
    elif w2 is None or c2 is None or w2.shape != w.shape or c2.shape != c.shape or not (
            np.allclose(w2, w, atol=1e-6) and np.allclose(c2, c, rtol=1e-4, atol=1e-5)):
        lines.append("changing the hidden states at padded positions changed the output: padding "
                     "must not influence the weights or the context")
    else:
        score += 1.0
    if c.shape != (h.shape[0], h.shape[2]):
        lines.append(f"the context should have shape {(h.shape[0], h.shape[2])} (batch, "
                     f"hidden_dim), got {c.shape}")
    else:
        problem = compare_arrays(c, np.einsum("bt,bth->bh", w, h), name="the context",
                                 rtol=1e-4, atol=1e-5)
        if problem:
            lines.append(problem + " It should be the weighted sum of h over time, "
                         "sum_t weights[:, t] * h[:, t].")
        else:
            score += 1.0
    return verdict(part, score, lines)


def _score_model(part: Part, o: dict, seed: int):
    case = _model_case(seed)
    ids, lengths = case["ids"], case["lengths"]
    mask = ids != 0
    n, t = ids.shape
    lines, score = [], 0.0
    logits, msg = as_array(o.get("logits"), "the logits")
    w, msg_w = as_array(o.get("weights"), "the attention weights")
    l3, msg_3 = as_array(o.get("logits_3"), "the logits with num_classes=3")
    shape_problems = []
    for arr, msg_a, want, what in ((logits, msg, (n, 2), "logits"),
                                   (w, msg_w, (n, t), "attention weights"),
                                   (l3, msg_3, (n, 3), "logits with num_classes=3")):
        if arr is None:
            shape_problems.append(msg_a)
        elif arr.shape != want:
            shape_problems.append(f"the {what} have shape {arr.shape}, expected {want} for ids "
                                  f"of shape {ids.shape}")
        elif not np.all(np.isfinite(arr)):
            shape_problems.append(f"the {what} contain NaN or inf")
    if not shape_problems:
        score += 1.0
    lines += shape_problems
    alone, _ = as_array(o.get("logits_alone"), "logits")
    extra, _ = as_array(o.get("logits_extra"), "logits")
    if shape_problems:
        lines.append("padding could not be checked before the shapes are right")
    elif (np.abs(w[~mask]).max() if (~mask).any() else 0.0) != 0.0 or not np.allclose(
            w.sum(axis=1), 1.0, atol=1e-5):
        lines.append("the model's attention weights should be 0 on padding (id 0) and sum to 1: "
                     "compute the mask as ids != pad_index")
    elif alone is None or extra is None or alone.shape != logits.shape or \
            extra.shape != logits.shape:
        lines.append("the logits of single reviews could not be compared")
    elif not (np.allclose(alone, logits, rtol=1e-4, atol=1e-5)
              and np.allclose(extra, logits, rtol=1e-4, atol=1e-5)):
        lines.append(f"the same reviews gave different logits alone (lengths {lengths}, no "
                     "padding), in the batch, and with 5 more padding columns: padding must not "
                     "change a prediction (mask the attention; a bidirectional LSTM needs "
                     "pack_padded_sequence)")
    else:
        score += 1.0
    return verdict(part, score, lines)


def _gradient_summary(modules) -> tuple[int | None, int, float | None]:
    """From the probe's gradient norms per module (untrusted): how many modules, how many of
    their parameters got no gradient, and the norm of the rest together (``None``: unreadable)."""
    if not isinstance(modules, list) or not all(isinstance(m, list) for m in modules):
        return None, 0, None
    norms = [g for m in modules for g in m]
    if not all(g is None or isinstance(g, float) for g in norms):
        return None, 0, None
    given = [g for g in norms if g is not None]
    return len(modules), len(norms) - len(given), float(np.sqrt(sum(g * g for g in given)))


def _score_gradients(part: Part, o: dict):
    loss = o.get("loss")
    if not isinstance(loss, float) or not np.isfinite(loss):
        return part.failed(f"The cross-entropy of the model's logits is not a finite number "
                           f"({loss}).")
    score, lines = 0.0, []
    for key, what, cls in (("embedding", "the embedding", "nn.Embedding"),
                           ("lstm", "the LSTM", "nn.LSTM")):
        found, missing, norm = _gradient_summary(o.get(f"{key}_grads"))
        if not isinstance(found, int) or found < 1:
            lines.append(f"the model has no {cls} module")
        elif missing:
            lines.append(f"{missing} parameter(s) of {what} got no gradient: the loss does not "
                         "depend on them (a .detach(), .numpy() or torch.no_grad() cuts the graph)")
        elif not isinstance(norm, float) or not np.isfinite(norm) or norm <= 0:
            lines.append(f"the gradient of {what} is zero or not finite ({norm})")
        else:
            score += 1.0
    grads = o.get("grads")
    no_grad = [g[0] for g in grads if isinstance(g, list) and len(g) == 2 and g[1] is None] \
        if isinstance(grads, list) else []
    if no_grad and score == part.max_score:
        lines.append(f"note: these parameters got no gradient: {', '.join(map(str, no_grad[:6]))}")
    return verdict(part, score, lines, "The loss's gradient reaches the embedding and the LSTM."
                           + ("\n" + lines[0] if lines else ""))


def _score_training(train_part: Part, acc_part: Part, o: dict, heldout, loop: dict,
                    cpu_s: float, seed: int):
    _, (_, (_, y_val), (_, y_test)) = encoded_corpus(seed)
    setup = (f"The grader built Vocabulary.from_texts on {N_TRAIN} training reviews, encoded "
             f"them itself, trained SentimentClassifier(len(vocab)) with train_model's defaults "
             f"({N_VAL} reviews for validation) and evaluated the trained model, exported as a "
             f"graph, on {len(y_test)} held-out reviews. Its reviews follow the corpus's grammar "
             "with every word replaced by a made-up one.")
    hint = ("\nA model stuck near 80 % usually ignores negation (check the LSTM's output reaches "
            "the attention, try more epochs or another learning rate); a bag-of-words model "
            "cannot pass about 83 % on this corpus.")
    return score_training_run(train_part, acc_part, o, heldout, y_test, n_val=N_VAL, n_classes=2,
                              predict_name="predict(model, ids_val)", item="review", setup=setup,
                              acc_full=ACC_FULL, acc_tiers=ACC_TIERS, cpu_s=cpu_s,
                              cpu_budget_s=CPU_BUDGET_S, loop=loop, hint=hint,
                              chance_max=CHANCE_MAX, y_val=y_val)


NAMES = ("encode_texts", "AdditiveAttention", "SentimentClassifier", "train_model", "predict")


def score(results, submission):
    seed = submission.seed
    return score_parts(PARTS, results, submission, names=NAMES, simple={
        "ex3.encode": ("encode_probe", lambda p, o: _score_encode(p, o, seed)),
        "ex3.attention": ("attention_probe", lambda p, o: _score_attention(p, o, seed)),
        "ex3.model": ("model_probe", lambda p, o: _score_model(p, o, seed)),
        "ex3.gradients": ("gradient_probe", _score_gradients),
    }, joint={("ex3.training", "ex3.accuracy"): _common.training_scorer(
        results, submission, LOOP_INPUTS, lambda *a: _score_training(*a, seed))})


EXERCISE = Exercise(name="ex3", title="Text classification with an LSTM and attention (PyTorch)",
                    notebook="ex3_lstm_attention.ipynb", parts=PARTS, probes=probes, score=score,
                    limits=LIMITS, policy=POLICY, seed=SEED, evaluations=EVALUATIONS)
