"""Learning-rate schedules against torch.optim.lr_scheduler, step for step."""

import warnings

import numpy as np
import pytest
import torch

from dlbasics import MLP, SGD, Adam, CosineAnnealingLR, LinearLR, SequentialLR, StepLR, make_xor


def _torch_opt(lr):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def _rates(sched, opt, steps):
    """The rate in use before each of ``steps`` updates, read from the optimizer."""
    rates = []
    for _ in range(steps):
        rates.append(opt.lr if hasattr(opt, "lr") else opt.param_groups[0]["lr"])
        if not hasattr(opt, "lr"):
            opt.step()  # keeps torch from warning about the order of step() calls
        sched.step()
    return np.array(rates)


def _compare(make_ours, make_theirs, lr, steps):
    ours_opt = SGD(lr)
    ours = _rates(make_ours(ours_opt), ours_opt, steps)
    theirs_opt = _torch_opt(lr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our calling pattern must be the one torch expects
        theirs = _rates(make_theirs(theirs_opt), theirs_opt, steps)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    return ours


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.5), (3, 0.1), (7, 0.9), (4, 2.0)])
def test_steplr_matches_torch_over_60_steps(step_size, gamma):
    rates = _compare(
        lambda o: StepLR(o, step_size, gamma),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma),
        0.1,
        60,
    )
    np.testing.assert_allclose(rates, 0.1 * gamma ** (np.arange(60) // step_size), rtol=1e-12)


@pytest.mark.parametrize(
    ("T_max", "eta_min", "lr"), [(10, 0.0, 0.1), (7, 0.001, 0.05), (1, 0.0, 1.0), (25, 0.02, 0.3)]
)
def test_cosine_matches_torch_past_t_max(T_max, eta_min, lr):  # noqa: N803
    steps = 3 * T_max + 5  # down to eta_min, back up to lr, and down again
    rates = _compare(
        lambda o: CosineAnnealingLR(o, T_max, eta_min),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max, eta_min),
        lr,
        steps,
    )
    t = np.arange(steps)
    closed = eta_min + (lr - eta_min) * (1 + np.cos(np.pi * t / T_max)) / 2
    np.testing.assert_allclose(rates, closed, rtol=1e-9, atol=1e-12)
    assert rates[T_max] == pytest.approx(eta_min, abs=1e-12)
    assert rates[2 * T_max] == pytest.approx(lr, rel=1e-9)  # periodic, as PyTorch's recursion


@pytest.mark.parametrize(
    ("start", "end", "total"), [(0.1, 1.0, 5), (1 / 3, 1.0, 5), (1.0, 0.2, 8), (0.5, 0.0, 4), (0.25, 0.25, 3)]
)
def test_linearlr_matches_torch(start, end, total):
    rates = _compare(
        lambda o: LinearLR(o, start, end, total),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start, end, total),
        0.2,
        3 * total + 4,
    )
    t = np.minimum(np.arange(3 * total + 4), total)
    np.testing.assert_allclose(rates, 0.2 * (start + (end - start) * t / total), rtol=1e-12)


def test_warmup_then_cosine_matches_torch_sequentiallr():
    def ours(o):
        warm = LinearLR(o, start_factor=0.1, total_iters=5)
        cos = CosineAnnealingLR(o, T_max=20, eta_min=0.001)
        return SequentialLR(o, [warm, cos], milestones=[5])

    def theirs(o):
        warm = torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001)
        return torch.optim.lr_scheduler.SequentialLR(o, [warm, cos], milestones=[5])

    rates = _compare(ours, theirs, 0.1, 70)
    assert rates[0] == pytest.approx(0.01)
    assert rates[5] == pytest.approx(0.1)  # the cosine starts afresh from the base rate
    assert rates[25] == pytest.approx(0.001)


def test_three_schedules_in_sequence_match_torch():
    def ours(o):
        scheds = [LinearLR(o, 0.2, 1.0, 3), StepLR(o, 4, 0.5), CosineAnnealingLR(o, 6)]
        return SequentialLR(o, scheds, milestones=[3, 11])

    def theirs(o):
        S = torch.optim.lr_scheduler
        scheds = [S.LinearLR(o, 0.2, 1.0, 3), S.StepLR(o, 4, 0.5), S.CosineAnnealingLR(o, 6)]
        return S.SequentialLR(o, scheds, milestones=[3, 11])

    _compare(ours, theirs, 0.4, 40)


def test_get_last_lr_and_last_lr_report_the_rate_in_use():
    opt = Adam(0.01)
    sched = CosineAnnealingLR(opt, T_max=4)
    assert sched.get_last_lr() == [0.01] and sched.last_lr == 0.01 and sched.last_epoch == 0
    sched.step()
    assert sched.get_last_lr() == [opt.lr]
    assert opt.lr == pytest.approx(0.01 * (1 + np.cos(np.pi / 4)) / 2)
    assert opt.initial_lr == 0.01 and sched.base_lr == 0.01


def test_scheduler_changes_what_fit_does():
    X, y = make_xor(64, seed=0)
    a = MLP([2, 8, 2], seed=0)
    b = MLP([2, 8, 2], seed=0)
    a.fit(X, y, epochs=6, optimizer=SGD(0.5), progress=False)
    opt = SGD(0.5)
    sched = StepLR(opt, step_size=2, gamma=0.1)
    b.fit(X, y, epochs=6, optimizer=opt, callback=lambda *_: sched.step(), progress=False)
    assert opt.lr == pytest.approx(0.5 * 0.1**3)
    assert not np.allclose(a.weights[0], b.weights[0])


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda o: StepLR(o, 0), ValueError, "step_size must be an integer >= 1"),
        (lambda o: StepLR(o, 2.5), TypeError, "step_size must be an integer"),
        (lambda o: StepLR(o, 3, gamma=0.0), ValueError, "gamma must be a finite number > 0"),
        (lambda o: CosineAnnealingLR(o, 0), ValueError, "T_max must be an integer >= 1"),
        (lambda o: CosineAnnealingLR(o, True), TypeError, "T_max must be an integer"),
        (lambda o: CosineAnnealingLR(o, 10, eta_min=-0.1), ValueError, "eta_min must be a finite number >="),
        (lambda o: LinearLR(o, start_factor=0.0), ValueError, "start_factor must be a finite number > 0"),
        (lambda o: LinearLR(o, start_factor=1.5), ValueError, "must satisfy 0 < start_factor <= 1"),
        (lambda o: LinearLR(o, end_factor=2.0), ValueError, "end_factor must satisfy 0 <= end_factor <= 1"),
        (lambda o: LinearLR(o, total_iters=0), ValueError, "total_iters must be an integer >= 1"),
        (lambda o: SequentialLR(o, [], []), ValueError, "at least one scheduler"),
        (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], []), ValueError, "one milestone fewer"),
        (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], [0]), ValueError, r"milestones\[0\] must"),
        (
            lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3), StepLR(o, 4)], [5, 5]),
            ValueError,
            "strictly increasing",
        ),
        (lambda o: SequentialLR(o, [StepLR(SGD(0.1), 2)], []), ValueError, "different optimizer"),
        (lambda o: SequentialLR(o, ["cosine"], []), TypeError, r"schedulers\[0\] must be"),
    ],
)
def test_bad_arguments_get_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make(SGD(0.1))


def test_a_torch_optimizer_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="torch.optim.lr_scheduler"):
        StepLR(_torch_opt(0.1), 3)
