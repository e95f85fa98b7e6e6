"""lib.experiments.hashing: equal-storage networks and call-counted MACs (no training)."""

import pytest
import torch

from lib.experiments import hashing as EH


@pytest.mark.parametrize("factor", EH.FACTORS)
def test_equal_storage(factor):
    k = sum(EH.layer_budgets(factor))
    nets = {m: EH.hashed_mlp(m, factor) for m in EH.METHODS}
    assert EH.stored_weights(nets["hashed"]) == k
    assert EH.stored_weights(nets["rer"]) == k
    assert EH.stored_weights(nets["lowrank"]) <= k
    assert abs(EH.stored_weights(nets["dense"]) - k) <= 784 + 10   # one hidden unit's worth
    for net in nets.values():
        assert net(torch.zeros(2, 784)).shape == (2, 10)


def test_rer_mask_is_seeded():
    a, b = EH.hashed_mlp("rer", 8, seed=0), EH.hashed_mlp("rer", 8, seed=0)
    assert torch.equal(a[0].weight_mask, b[0].weight_mask)
    assert not torch.equal(a[0].weight_mask, EH.hashed_mlp("rer", 8, seed=1)[0].weight_mask)


def test_shared_stack_macs_count_every_call():
    shared, separate = EH.albert_net(4, True), EH.albert_net(4, False)
    assert EH.stack_macs(shared, (64,)) == EH.stack_macs(separate, (64,)) == 64 * 64 + 4 * 64 * 64 + 64 * 10


def test_bucket_view_counts():
    v = EH.bucket_view(48, seed=1)
    assert sum(v["sizes"]) == 12 * 16 and v["mean"] == 4
    assert all(abs(x) in range(1, 49) for row in v["virtual"] for x in row)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        EH.hashed_mlp("pruned", 8)
