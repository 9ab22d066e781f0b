"""The price war: a drifted customer world (docs/customer-world.md, "Drifted worlds").

A competitor started a price war two months before the data was drawn. The operator answers
with a discount on the bill (直降), so the last two bills fall and with them the bills' trend;
the bill three months ago, from before the war, does not move. Customers who
care about price leave more: the competitor's offer adds to their churn logit. The discounts
come from the shift's own random stream, so every other column holds what the base world draws
for the same seed and row.
"""

from __future__ import annotations

import numpy as np

from training.customers.schema import CONTRACT_TYPES

# Each customer's discount, the same on both bills of the war, is Beta-distributed around
# _CUT_MEAN (the operator tailors its offers).
_CUT_MEAN, _CUT_CONCENTRATION = 0.35, 20.0
# How much the competitor's offer tempts each occupation, in OCCUPATIONS order: 学生 商务人士
# 外来务工者 年轻白领 低收入人群 司机. Business people's bills are paid by their employer.
_SENSITIVITY = np.array([1.0, 0.0, 1.0, 0.5, 1.0, 0.5])
_HELD_BY_CONTRACT = 0.3  # sensitivity left to a customer with more than 2 contract months left
_CHURN_PULL = 1.5  # added to the churn logit of a fully price-sensitive customer
_NO_CONTRACT = CONTRACT_TYPES.index("无合约")


class PriceWar:
    """The price war's shift of one block of customers, drawn from ``rng`` alone."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng

    def bill_factors(self, n: int) -> np.ndarray:
        """What is left of each bill after the discount: n x (m1, m2, m3)."""
        cut = self._rng.beta(
            _CUT_MEAN * _CUT_CONCENTRATION, (1 - _CUT_MEAN) * _CUT_CONCENTRATION, n
        )
        return np.column_stack([1 - cut, 1 - cut, np.ones(n)])

    def churn_pull(
        self, occupation: np.ndarray, contract_type: np.ndarray, months_left: np.ndarray
    ) -> np.ndarray:
        """The competitor's pull on each customer's churn logit."""
        held = (contract_type != _NO_CONTRACT) & (months_left > 2)
        return _CHURN_PULL * _SENSITIVITY[occupation] * np.where(held, _HELD_BY_CONTRACT, 1.0)
