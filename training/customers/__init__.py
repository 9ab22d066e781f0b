"""The customer models (churn, channel preference, occupation, content preference): the
built-in customer world, tabular features, boosted trees and logistic regressions with their
fast scorers, and the trainer."""
