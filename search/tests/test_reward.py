import pytest
import torch

from instanas_search.controller import explore
from instanas_search.reward import BoundSchedule, latency_reward, reward, ub_end


def test_parabola_peaks_midway_and_is_zero_outside():
    lat = torch.tensor([1.0, 2.0, 3.0, 0.5, 3.5, 1.5])
    r = latency_reward(lat, lb=1.0, ub=3.0)
    assert r.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0, 0.0, 0.75])


def test_reward_correct_vs_wrong():
    lat = torch.tensor([2.0, 2.0, 5.0])
    correct = torch.tensor([True, False, True])
    r = reward(correct, lat, 1.0, 3.0, pos_w=2.0, neg_w=-0.5)
    assert r.tolist() == pytest.approx([2.0, -0.5, 0.0])


def test_bad_bounds_raise():
    with pytest.raises(ValueError, match="ub"):
        latency_reward(torch.tensor([1.0]), 2.0, 2.0)


def test_bound_schedule_moves_ub_linearly():
    s = BoundSchedule(lb=1.0, ub_start=10.0, ub_end=4.0, epochs=4)
    assert [s.ub(e) for e in range(4)] == pytest.approx([10.0, 8.0, 6.0, 4.0])
    assert s.ub(99) == pytest.approx(4.0)
    assert s.bounds(0) == (1.0, 10.0)
    bad = BoundSchedule(lb=5.0, ub_start=10.0, ub_end=4.0, epochs=2)
    with pytest.raises(ValueError, match="ub"):
        bad.bounds(1)
    # ...and a search checks both ends up front (check()), before any epoch runs.
    with pytest.raises(ValueError, match=r"ub_end 4 <= lb 5 .*raise reward\.ub_end_frac"):
        bad.check()
    s.check()


def test_exploration_keeps_probabilities_within_alpha():
    p = torch.linspace(0, 1, 101)
    q = explore(p, 0.8)
    assert float(q.min()) == pytest.approx(0.2) and float(q.max()) == pytest.approx(0.8)
    assert float(explore(torch.tensor(0.5), 0.8)) == pytest.approx(0.5)


def test_bound_schedule_falls_within_an_epoch():
    s = BoundSchedule(lb=1.0, ub_start=10.0, ub_end=4.0, epochs=4)
    assert s.ub(0, 0.5) == pytest.approx(9.0)
    assert s.ub(2, 0.25) == pytest.approx(5.5)
    assert s.ub(3, 0.9) == pytest.approx(4.0)  # the last epoch holds ub_end


def test_ub_slope_penalises_paths_above_ub_in_proportion():
    lat = torch.tensor([2.0, 3.0, 4.5, 6.0])
    flat = latency_reward(lat, lb=1.0, ub=3.0)
    sloped = latency_reward(lat, lb=1.0, ub=3.0, ub_slope=1.0)
    assert flat.tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert sloped.tolist() == pytest.approx([1.0, 0.0, -0.5, -1.0])
    # Above ub a wrong prediction pays the same latency penalty on top of neg_w, so a correct answer never earns
    # less than a wrong one on the same path (it did: -1.0 vs -0.5 at 2 x ub).
    r = reward(torch.tensor([True, False, True, False, False]), torch.tensor([6.0, 6.0, 2.0, 2.0, 3.0]), 1.0, 3.0, 1.0, -0.5, ub_slope=1.0)
    assert r.tolist() == pytest.approx([-1.0, -1.5, 1.0, -0.5, -0.5])
    lat = torch.linspace(1.0, 12.0, 50)
    for pos_w, neg_w in [(1.0, -0.5), (2.0, -0.1), (0.5, -1.0)]:
        right = reward(torch.ones(50, dtype=torch.bool), lat, 1.0, 3.0, pos_w, neg_w, ub_slope=1.0)
        wrong = reward(torch.zeros(50, dtype=torch.bool), lat, 1.0, 3.0, pos_w, neg_w, ub_slope=1.0)
        assert bool((right >= wrong).all())
    # Without the slope (the paper) nothing changes: a wrong prediction earns neg_w whatever its latency.
    assert reward(torch.tensor([False]), torch.tensor([6.0]), 1.0, 3.0, 1.0, -0.5).tolist() == pytest.approx([-0.5])


def test_ub_end_chain_is_the_paper_and_span_is_relative_to_lb():
    assert ub_end("chain", 0.5, lb=0.33, chain=0.76) == pytest.approx(0.38)
    assert ub_end("span", 0.25, lb=0.33, chain=0.73) == pytest.approx(0.43)
    with pytest.raises(ValueError, match="ub_end_ref"):
        ub_end("median", 0.5, 0.3, 0.7)
    with pytest.raises(ValueError, match="ub_end_frac"):
        ub_end("span", 0.0, 0.3, 0.7)
