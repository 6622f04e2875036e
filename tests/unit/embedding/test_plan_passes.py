import itertools
import random

import pytest

from gateway.embedding.embedder import plan_passes


def _cost(lengths: list[int], passes: list[list[int]], overhead: int) -> int:
    return sum(overhead + len(p) * max(lengths[i] for i in p) for p in passes)


def _best_cost_by_brute_force(lengths: list[int], max_pass: int, overhead: int) -> int:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    best = None
    for cuts in itertools.product([False, True], repeat=len(order) - 1):
        passes, current = [], [order[0]]
        for index, cut in zip(order[1:], cuts, strict=True):
            if cut:
                passes.append(current)
                current = []
            current.append(index)
        passes.append(current)
        if max(len(p) for p in passes) <= max_pass:
            cost = _cost(lengths, passes, overhead)
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def test_when_lengths_are_planned_then_every_text_is_in_exactly_one_pass_of_at_most_max_pass_longest_first() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(3, 256) for _ in range(100)]
    passes = plan_passes(lengths, 16, 32)
    assert sorted(i for p in passes for i in p) == list(range(100))
    assert all(1 <= len(p) <= 16 for p in passes)
    flat = [lengths[i] for p in passes for i in p]
    assert flat == sorted(lengths, reverse=True)


def test_when_one_text_is_much_longer_then_it_gets_its_own_pass_instead_of_padding_the_short_ones() -> None:
    assert plan_passes([12, 200, 10, 11, 10], 8, 32) == [[1], [0, 3, 2, 4]]


def test_when_lengths_are_equal_then_the_fewest_passes_are_made() -> None:
    assert len(plan_passes([20] * 20, 8, 32)) == 3


@pytest.mark.parametrize("seed", range(12))
def test_when_planned_then_the_cost_is_the_least_any_split_of_the_sorted_order_reaches(seed: int) -> None:
    rng = random.Random(seed)
    lengths = [rng.choice([rng.randint(5, 30), rng.randint(30, 200)]) for _ in range(rng.randint(1, 9))]
    max_pass, overhead = rng.choice([2, 3, 4, 16]), rng.choice([1, 16, 32, 100])
    planned = plan_passes(lengths, max_pass, overhead)
    assert _cost(lengths, planned, overhead) == _best_cost_by_brute_force(lengths, max_pass, overhead)


def test_when_no_overhead_is_given_then_passes_are_consecutive_runs_of_max_pass_in_length_order() -> None:
    assert plan_passes([5, 50, 20, 7, 30], 2, None) == [[1, 4], [2, 3], [0]]


def test_when_there_is_nothing_to_plan_then_no_pass_and_a_bad_max_pass_is_refused() -> None:
    assert plan_passes([], 16, 32) == []
    with pytest.raises(ValueError, match="max_pass"):
        plan_passes([3], 0, 32)
