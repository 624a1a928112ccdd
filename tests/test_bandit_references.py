"""k-armed Bernoulli bandit references (tasks/bandit_gittins.py) against published figures.

Sources:
- Gittins indices of a Beta(1,1) arm: 0.7029 at discount 0.9 and 0.8699 at 0.99 (Gittins, Glazebrook &
  Weber 2011, "Multi-armed Bandit Allocation Indices", 2nd ed., the Bernoulli/Beta index tables).
- Total reward per episode, arms p ~ U(0,1), 1,000 instances: Duan et al. 2016, "RL²: Fast
  Reinforcement Learning via Slow Reinforcement Learning", Table 1 (shared/notes/literature.md).
"""

import numpy as np
import pytest

from evo_fastslow.tasks.bandit import BanditTask
from evo_fastslow.tasks.bandit_baselines import BayesOptimalPolicy, discounted_ceiling
from evo_fastslow.tasks.bandit_gittins import (KArmedBayesOptimalPolicy, bayes_optimal_tractable, bayes_tree,
                                               gittins_table)
from evo_fastslow.tasks.base import run_policy

EPISODES = 4000
PUBLISHED_INSTANCES = 1000
# (trials, arms): published totals of random, Gittins, Thompson (Duan et al. 2016, Table 1)
DUAN_2016 = {(10, 5): (5.0, 6.6, 5.7), (100, 5): (49.9, 78.3, 74.7), (100, 10): (49.9, 82.8, 76.7),
             (100, 50): (49.8, 85.2, 64.5), (500, 10): (249.0, 437.8, 429.5)}


@pytest.mark.parametrize("discount, published", [(0.9, 0.7029), (0.99, 0.8699)])
def test_gittins_index_of_a_fresh_arm_matches_the_published_table(discount, published):
    # the calibration's grid and truncation leave an error well under the table's 4 decimals
    assert gittins_table(100, discount)[0][0] == pytest.approx(published, abs=2e-4)


def test_gittins_indices_order_as_the_theory_says():
    """More successes raise the index; more pulls with the same mean lower it (less left to learn)."""
    table = gittins_table(50, 0.95)
    assert np.all(np.diff(table[10]) > 0)                   # s = 0..10 of 10 pulls
    assert table[0][0] > table[2][1] > table[10][5] > 0.5   # mean 1/2, ever more known


def _totals(trials: int, arms: int) -> dict[str, np.ndarray]:
    task = BanditTask(arms=arms, trials=trials)
    episodes = task.sample(EPISODES, np.random.default_rng(trials * 100 + arms))
    policies = task.baselines()
    return {name: run_policy(task, episodes, EPISODES, policies[name](), seed=5)[1].sum(0, dtype=np.float64)
            for name in ("random", "gittins", "thompson", "greedy")}


@pytest.mark.parametrize("trials, arms", sorted(DUAN_2016))
def test_k_armed_references_match_duan_2016(trials, arms):
    """Each total within 4 standard errors of the difference between the published mean (1,000
    instances) and ours (4,000 episodes, the same per-episode spread assumed): the paper's discount
    for Gittins is not stated (ours: 1 - 1/trials). Gittins beats Thompson and greedy, as published."""
    totals = _totals(trials, arms)
    for name, published in zip(("random", "gittins", "thompson"), DUAN_2016[trials, arms]):
        ours = totals[name]
        error = ours.std() * np.sqrt(1 / PUBLISHED_INSTANCES + 1 / EPISODES)
        assert abs(ours.mean() - published) < 4 * error, (name, ours.mean(), published)
    assert totals["gittins"].mean() > totals["thompson"].mean()
    assert totals["gittins"].mean() > totals["greedy"].mean()


def test_k_armed_bayes_optimal_agrees_with_the_two_armed_tables():
    """Two independent implementations of the same optimum: the k-armed tree and the vectorised
    two-armed tables choose the same expected total (ties may pick other arms)."""
    trials = 20
    tree = bayes_tree(2, trials)
    task = BanditTask(arms=2, trials=trials)
    episodes = task.sample(20_000, np.random.default_rng(11))
    expected = {}
    for name, policy in (("tree", KArmedBayesOptimalPolicy(2, trials)), ("tables", BayesOptimalPolicy(trials, "independent"))):
        actions, _ = run_policy(task, episodes, 20_000, policy, seed=1)
        expected[name] = episodes.expected_rewards(actions).sum(0, dtype=np.float64).mean()
    # the tree's own value at the root is the exact expectation both estimate (SE ~ 0.03 here)
    assert expected["tree"] == pytest.approx(tree.value[((0, 0), (0, 0))], abs=0.12)
    assert expected["tables"] == pytest.approx(tree.value[((0, 0), (0, 0))], abs=0.12)


def test_bayes_optimal_is_the_best_reference_where_tractable():
    """Five arms, ten pulls (Duan et al.'s first row): the exact optimum's value is at least every
    other policy's expected total, and its simulated total beats Gittins by at most sampling error."""
    assert bayes_optimal_tractable(5, 10) and not bayes_optimal_tractable(10, 100)
    task = BanditTask(arms=5, trials=10)
    assert "bayes-optimal" in task.baselines()
    optimum = bayes_tree(5, 10).value[((0, 0),) * 5]
    episodes = task.sample(EPISODES, np.random.default_rng(3))
    for name in ("gittins", "thompson", "greedy", "bayes-optimal"):
        actions, _ = run_policy(task, episodes, EPISODES, task.baselines()[name](), seed=2)
        total = episodes.expected_rewards(actions).sum(0, dtype=np.float64)
        assert total.mean() <= optimum + 4 * total.std() / np.sqrt(EPISODES), name
    assert optimum >= 6.6  # at least the published Gittins total


def test_the_undiscounted_ceiling_is_the_published_bayes_optimal_regret():
    """Exact Bayes-optimal regret at 100 pulls: independent 1.75, correlated 1.22 (shared/notes/literature.md,
    from an independent dynamic programme), to their two decimals."""
    assert discounted_ceiling(100, "independent", 1.0) == pytest.approx(1.75, abs=0.005)
    assert discounted_ceiling(100, "correlated", 1.0) == pytest.approx(1.22, abs=0.005)


def test_a_shorter_discount_costs_regret_on_independent_arms_only():
    """The policy optimal for a discounted return explores less: its (undiscounted) regret grows as the
    discount shrinks, up to the myopic rule at 0. On correlated arms the myopic rule is already optimal
    (every pull informs about both arms), so the discount costs nothing there."""
    independent = [discounted_ceiling(100, "independent", d) for d in (1.0, 0.95, 0.9, 0.85, 0.5, 0.0)]
    assert all(a < b for a, b in zip(independent, independent[1:]))
    assert independent[2] < 2.0 < independent[3]  # the discount an agent needs for a regret below 2
    correlated = {discounted_ceiling(100, "correlated", d) for d in (1.0, 0.9, 0.5, 0.0)}
    assert max(correlated) - min(correlated) < 1e-9


def test_the_ceiling_is_what_its_policy_scores_on_sampled_tasks():
    """The exact expectation against the policy run on 20,000 sampled tasks (standard error ~0.02)."""
    task = BanditTask(arms=2, trials=100)
    episodes = task.sample(20_000, np.random.default_rng(17))
    for discount in (0.0, 0.85):
        actions, _ = run_policy(task, episodes, 20_000, BayesOptimalPolicy(100, "independent", discount), seed=3)
        regret = (episodes.oracle_reward() - episodes.expected_rewards(actions).sum(0, dtype=np.float64)).mean()
        assert regret == pytest.approx(discounted_ceiling(100, "independent", discount), abs=0.1)


def test_a_novelty_bonus_makes_up_for_a_short_discount_and_the_ceiling_says_so():
    """The policy optimal for discount 0.913 plus a novelty bonus (1/sqrt(count), weight 0.3) explores as a
    patient agent does: its exact regret falls from 1.94 to within 0.05 of the Bayes-optimal 1.75, and the
    same policy run on 20,000 sampled tasks (standard error ~0.02) scores what the recursion says."""
    plain, driven = (discounted_ceiling(100, "independent", 0.913, bonus) for bonus in (("none", 0.0),
                                                                                        ("novelty", 0.3)))
    assert discounted_ceiling(100, "independent", 0.913, ("novelty", 0.0)) == plain
    assert plain > 1.9 and driven < discounted_ceiling(100, "independent", 1.0) + 0.05
    assert discounted_ceiling(100, "independent", 0.913, ("novelty", 1.0)) > plain  # too strong a drive: worse
    task = BanditTask(arms=2, trials=100)
    episodes = task.sample(20_000, np.random.default_rng(17))
    policy = BayesOptimalPolicy(100, "independent", 0.913, ("novelty", 0.3))
    actions, _ = run_policy(task, episodes, 20_000, policy, seed=3)
    regret = (episodes.oracle_reward() - episodes.expected_rewards(actions).sum(0, dtype=np.float64)).mean()
    assert regret == pytest.approx(driven, abs=0.1)
    with pytest.raises(ValueError, match="independent arms only"):
        discounted_ceiling(100, "correlated", 0.913, ("novelty", 0.3))
