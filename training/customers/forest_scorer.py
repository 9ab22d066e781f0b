"""Score customers with every boosted tree of a customer model in one vectorised pass.

Why: ``pipeline.predict_proba`` on one customer costs milliseconds per target, mostly outside
the trees (the ColumnTransformer, the classifier's own inner ordinal encoder, a Python call
per tree). The four customer models hold 16 targets and about 1,900 trees, so asking sklearn
costs ~100 ms per customer. ``ForestScorer`` reads the fitted pipelines once and answers with
the same numbers (to ~1e-15) in a few hundred microseconds.

How:

1. Encoding. A record becomes the row the pipeline's ColumnTransformer would give: numbers as
   floats, categories as their position in the FeatureSpec (NaN when blank or unseen). The
   per-value rules are ``training.customers.data``'s, so serving and training agree.
2. Flattening. Every tree of every target is copied into a few flat arrays, renumbered so that
   a node's two children sit side by side: ``next = child + (value <= threshold)``. A missing
   value must follow ``missing_go_to_left``; each row is therefore widened with a second copy
   in which NaN reads as -inf (always "left"), and a node whose missing values go left reads
   that copy, while NaN in the first copy compares false ("right"). A categorical split becomes
   a table over the feature's codes (the classifier's inner re-encoding, its bitsets, and its
   rule that unseen codes count as missing all folded in), looked up once per row into an extra
   0/1 column of the widened row. Leaves have a NaN threshold and point at themselves.
3. Traversal. All trees step one level at a time with a handful of numpy gathers. Trees are
   sorted deepest first, so level ``d`` only touches the prefix of trees deeper than ``d``.
4. Sums. Leaf values are added per target (and class) one tree at a time in sklearn's own
   order, starting from the classifier's baseline (folded into each score's first tree), so
   a row's score is sklearn's to the last bit and does not depend on the other rows of the
   batch; then the sigmoid or softmax, as sklearn's loss does.

Anything in a pipeline this module does not know how to reproduce raises
``UnsupportedPipelineError`` at construction, and every scorer checks itself against sklearn on
probe rows before it is returned, so it never silently answers differently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from training.customers.data import FeatureSpec, RecordEncoder

Records = Sequence[Mapping[str, Any]] | pd.DataFrame
TOLERANCE = 1e-9  # the self-check's largest allowed difference from sklearn's probabilities
PROBE_ROWS = 96
NODE_FIELDS = {"value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right"}
NODE_FIELDS |= {"is_leaf", "is_categorical", "bitset_idx", "depth"}


class UnsupportedPipelineError(ValueError):
    """A fitted pipeline this scorer cannot reproduce exactly; score it with sklearn instead."""


class ForestScorer:
    """All targets' tree ensembles of one or more customer models, scored together.

    Pipelines of several models that share one ``FeatureSpec`` (the built-in world's four do)
    can go into one scorer: one traversal then serves every model, which is what makes scoring
    a customer with all four models cheap. Target names must then be distinct.
    """

    def __init__(self, features: FeatureSpec, pipelines: Mapping[str, Pipeline]):
        if not pipelines:
            raise UnsupportedPipelineError("no pipelines to score")
        self.features = features
        ensembles = {target: _checked_trees(p, features) for target, p in pipelines.items()}
        self._classes = {t: [str(c) for c in e.classes_] for t, e in ensembles.items()}
        self.encoder = RecordEncoder(features)
        splits = _CategorySplits(features)
        parts = {t: _translate(e, features, splits) for t, e in ensembles.items()}
        splits.freeze()
        self._forest = _Forest.build(parts, splits)
        # Risk factors score one target on many variant rows: its own trees only.
        self._single = {t: _Forest.build({t: part}, splits) for t, part in parts.items()}
        _check_against_sklearn(self, pipelines)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def classes(self, target: str) -> list[str]:
        """The target's classes, in the order of its probability columns."""
        return list(self._classes[target])

    def encode(self, records: Records) -> np.ndarray:
        """Records as the float matrix the pipelines' column step gives (rows x features)."""
        return self.encoder.encode(records)

    def probabilities(self, records: Records) -> dict[str, np.ndarray]:
        """Per target: P(positive) for a yes/no target, the (rows x classes) matrix otherwise."""
        return self._forest.probabilities(self.encode(records))

    def encoded_probabilities(self, encoded: np.ndarray, target: str | None = None) -> dict:
        """``probabilities`` of rows already encoded; of one target's trees only, if named."""
        forest = self._forest if target is None else self._single[target]
        return forest.probabilities(encoded)


def _checked_trees(pipeline: Pipeline, features: FeatureSpec) -> HistGradientBoostingClassifier:
    """The pipeline's boosted trees, once its shape and column step are known to match."""
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2:
        raise UnsupportedPipelineError("expected Pipeline([ColumnTransformer, boosted trees])")
    check_column_step(steps[0][1], features)
    trees = steps[1][1]
    if not isinstance(trees, HistGradientBoostingClassifier) or not hasattr(trees, "_loss"):
        raise UnsupportedPipelineError(f"unsupported final step {type(trees).__name__}")
    if type(trees._loss).__name__ not in {"HalfBinomialLoss", "HalfMultinomialLoss"}:
        raise UnsupportedPipelineError(f"unsupported loss {type(trees._loss).__name__}")
    return trees


def check_column_step(columns: object, features: FeatureSpec) -> None:
    if not isinstance(columns, ColumnTransformer) or not hasattr(columns, "transformers_"):
        raise UnsupportedPipelineError("the first step must be a fitted ColumnTransformer")
    if list(columns.get_feature_names_out()) != list(features.columns):
        raise UnsupportedPipelineError("the column step's output differs from the feature spec")
    for name, step, selected in columns.transformers_:
        if (isinstance(step, str) and step == "drop") or len(selected) == 0:
            continue
        if _is_passthrough(step):
            if any(c in features.categorical for c in selected):
                raise UnsupportedPipelineError(f"{name}: categories passed through as numbers")
            continue
        if not isinstance(step, OrdinalEncoder):
            raise UnsupportedPipelineError(f"{name}: unsupported step {type(step).__name__}")
        _check_ordinal_encoder(step, {c: features.categorical.get(c) for c in selected})


def _is_passthrough(step: object) -> bool:
    # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
    identity = isinstance(step, FunctionTransformer) and step.func is None
    return identity or (isinstance(step, str) and step == "passthrough")


def _check_ordinal_encoder(encoder: OrdinalEncoder, expected: dict[str, Any]) -> None:
    if encoder.handle_unknown != "use_encoded_value" or not _codes_nan(encoder):
        raise UnsupportedPipelineError("the ordinal encoder must code unknown and blank as NaN")
    if getattr(encoder, "_infrequent_enabled", False):
        raise UnsupportedPipelineError("the ordinal encoder groups infrequent categories")
    for (column, values), fitted in zip(expected.items(), encoder.categories_):
        if values is None or not all(isinstance(v, str) for v in fitted):
            raise UnsupportedPipelineError(f"{column}: categories must be text from the spec")
        if [str(v) for v in fitted] != list(values):
            raise UnsupportedPipelineError(f"{column}: encoder categories differ from the spec")


def _codes_nan(encoder: OrdinalEncoder) -> bool:
    codes = (encoder.unknown_value, encoder.encoded_missing_value)
    return all(isinstance(c, float) and np.isnan(c) for c in codes)


# Rows traversed together: the state of every tree for every row (trees x rows) must stay in
# the CPU's cache; measured on the built-in models' 1,256 trees, 21,000 rows/s in blocks of
# 32-64 rows, 7,700 in blocks of 256 and 5,300 in blocks of 4,096.
BLOCK_ROWS = 64


@dataclass(frozen=True)
class _Part:
    """One target's trees in the flat layout's terms, before they are concatenated."""

    trees: list[_Tree]
    baseline: np.ndarray  # per raw score: the classifier's starting value


@dataclass(frozen=True)
class _Tree:
    nodes: np.ndarray  # sklearn's PREDICTOR_RECORD_DTYPE records
    column: np.ndarray  # per node: the widened row's column it reads
    threshold: np.ndarray  # per node: go left when the value <= threshold; NaN at leaves
    output: int  # which of the target's raw scores (classes) the tree adds to
    depth: int

    def plus(self, baseline: float) -> _Tree:
        """The tree with ``baseline`` added to every leaf: the first tree of a score."""
        nodes = self.nodes.copy()
        nodes["value"] = nodes["value"] + baseline
        return replace(self, nodes=nodes)


@dataclass(frozen=True)
class _Forest:
    """Trees of several targets in flat arrays, deepest trees first; see the module docstring."""

    column: np.ndarray  # per node
    threshold: np.ndarray  # per node
    child: np.ndarray  # per node: the right child, the left one follows it; leaves: itself
    value: np.ndarray  # per node: leaf value
    roots: np.ndarray  # per tree
    active: tuple[int, ...]  # per level: how many trees (a prefix) can still move
    order: np.ndarray  # the trees grouped by raw score, each group in sklearn's order
    groups: tuple[tuple[int, int], ...]  # per raw score: where its group is in ``order``
    outputs: dict[str, slice]  # per target: its raw scores
    splits: _CategorySplits

    @classmethod
    def build(cls, parts: Mapping[str, _Part], splits: _CategorySplits) -> _Forest:
        trees: list[tuple[int, _Tree]] = []  # (raw score, tree), in sklearn's order
        outputs, first = {}, 0
        for target, part in parts.items():
            outputs[target] = slice(first, first + len(part.baseline))
            started = set()
            for tree in part.trees:
                score = first + tree.output
                if score not in started:  # sklearn starts each score at the baseline
                    started.add(score)
                    tree = tree.plus(part.baseline[tree.output])
                trees.append((score, tree))
            if len(started) != len(part.baseline):
                raise UnsupportedPipelineError(f"{target}: a class without trees")
            first += len(part.baseline)
        deepest_first = sorted(range(len(trees)), key=lambda i: -trees[i][1].depth)  # stable
        position = np.empty(len(trees), dtype=np.intp)
        position[deepest_first] = np.arange(len(trees))
        by_score = sorted(range(len(trees)), key=lambda i: trees[i][0])  # stable
        scores = np.array([trees[i][0] for i in by_score])
        return cls(
            **_flatten([trees[i][1] for i in deepest_first]),
            order=position[by_score],
            groups=tuple(
                zip(
                    np.searchsorted(scores, np.arange(first)).tolist(),
                    np.searchsorted(scores, np.arange(first), side="right").tolist(),
                )
            ),
            outputs=outputs,
            splits=splits,
        )

    def probabilities(self, encoded: np.ndarray) -> dict[str, np.ndarray]:
        raw = self.raw_scores(encoded)
        positive = expit(raw)  # one call for every yes/no target; cheap for the others
        return {
            target: positive[scores.start]
            if scores.stop - scores.start == 1
            else _softmax(raw[scores].T)
            for target, scores in self.outputs.items()
        }

    def raw_scores(self, encoded: np.ndarray) -> np.ndarray:
        """(raw scores x rows): baseline plus the leaf values of each score's trees."""
        if len(encoded) <= BLOCK_ROWS:
            return self._block_raw_scores(encoded)
        blocks = range(0, len(encoded), BLOCK_ROWS)
        return np.hstack([self._block_raw_scores(encoded[i : i + BLOCK_ROWS]) for i in blocks])

    def _block_raw_scores(self, encoded: np.ndarray) -> np.ndarray:
        n = len(encoded)
        wide = self.splits.widen(encoded)
        flat = wide.ravel()
        # One flat state, tree-major: tree t's rows sit at t*n ... t*n + n - 1, so the trees
        # still moving at a level are a prefix and every step works on plain 1-d arrays.
        node = np.repeat(self.roots, n)
        starts = np.tile(np.arange(n, dtype=np.intp) * wide.shape[1], len(self.roots) * (n > 1))
        for count in self.active:
            at = node[: count * n]  # a view: the step below updates it in place
            lookup = self.column.take(at)
            if n > 1:
                lookup += starts[: count * n]  # each row's own stretch of the flat array
            np.add(self.child.take(at), flat.take(lookup) <= self.threshold.take(at), out=at)
        leaves = self.value.take(node.reshape(len(self.roots), n)[self.order])
        if n == 1:  # numpy sums a lone column pairwise; two columns, one tree after another
            leaves = np.repeat(leaves, 2, axis=1)
        # Each score summed over its trees in order, as sklearn adds them: the same bits
        # whatever the other rows of the batch (tests/training/test_forest_scorer.py).
        return np.stack([leaves[start:stop].sum(axis=0)[:n] for start, stop in self.groups])


def _softmax(raw: np.ndarray) -> np.ndarray:
    # As sklearn.utils.extmath.softmax, which HalfMultinomialLoss.predict_proba uses.
    exp = np.exp(raw - raw.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


class _CategorySplits:
    """The distinct categorical split rules, each a table over one feature's code slots giving
    0.0 (left) or 1.0 (right); widening a row appends each rule's answer as a column."""

    def __init__(self, features: FeatureSpec):
        self.n_features = len(features.columns)
        self.n_numeric = len(features.numeric)
        # One slot per category of the widest feature, then one for blank or unseen (NaN).
        self.slots = max((len(v) for v in features.categorical.values()), default=0) + 1
        self.rules: dict[tuple[int, bytes], int] = {}  # (feature, table bytes) -> rule number
        self.table = np.zeros(0)  # the rules' tables end to end
        self.category = np.zeros(0, dtype=np.intp)  # per rule: its feature's column
        self.base = np.zeros(0, dtype=np.intp)  # per rule: where its table starts

    def column_for(self, feature: int, table: np.ndarray) -> int:
        """The widened-row column that will hold this rule's answer."""
        rule = self.rules.setdefault((feature, table.tobytes()), len(self.rules))
        return 2 * self.n_features + rule

    def freeze(self) -> None:
        """Lay the collected rules out for ``widen``; call once every tree is translated."""
        keys = list(self.rules)
        if keys:
            self.table = np.concatenate([np.frombuffer(table) for _, table in keys])
        self.category = np.array([feature for feature, _ in keys], dtype=np.intp)
        self.base = np.arange(len(keys), dtype=np.intp) * self.slots

    def widen(self, encoded: np.ndarray) -> np.ndarray:
        """Each row, then the row with NaN as -inf, then one 0/1 column per rule."""
        n, width = encoded.shape
        wide = np.empty((n, 2 * width + len(self.base)))
        wide[:, :width] = encoded
        np.fmax(encoded, -np.inf, out=wide[:, width : 2 * width])  # NaN -> -inf, rest as is
        if len(self.base):
            # Codes lie below the last slot, which fmin gives blank or unseen categories (NaN).
            codes = np.fmin(encoded[:, self.category], self.slots - 1).astype(np.intp)
            wide[:, 2 * width :] = self.table.take(codes + self.base)
        return wide


def _translate(
    ensemble: HistGradientBoostingClassifier, features: FeatureSpec, splits: _CategorySplits
) -> _Part:
    """The ensemble's trees, each node pointed at the widened-row column it must read."""
    source, inner_codes = _inner_columns(ensemble, features, splits.slots)
    known, known_index = ensemble._bin_mapper.make_known_categories_bitsets()
    trees = []
    for iteration in ensemble._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            missing = NODE_FIELDS - set(nodes.dtype.names or ())
            if missing:
                raise UnsupportedPipelineError(f"tree nodes lack {', '.join(sorted(missing))}")
            column, threshold = _numeric_splits(nodes, source, splits)
            for i in np.flatnonzero(~nodes["is_leaf"].astype(bool) & nodes["is_categorical"]):
                inner = int(nodes[i]["feature_idx"])
                rule = _category_rule(
                    nodes[i], inner_codes[inner], predictor.raw_left_cat_bitsets,
                    known[known_index[inner]],
                )  # fmt: skip
                column[i], threshold[i] = splits.column_for(int(source[inner]), rule), 0.5
            trees.append(_Tree(nodes, column, threshold, k, int(nodes["depth"].max())))
    return _Part(trees, np.ravel(ensemble._baseline_prediction).astype(float))


def _numeric_splits(
    nodes: np.ndarray, source: np.ndarray, splits: _CategorySplits
) -> tuple[np.ndarray, np.ndarray]:
    """Columns and thresholds of the numeric splits; NaN thresholds (never true) elsewhere."""
    numeric = ~nodes["is_leaf"].astype(bool) & ~nodes["is_categorical"].astype(bool)
    feature = source[nodes["feature_idx"][numeric]]
    if np.any(feature >= splits.n_numeric):
        raise UnsupportedPipelineError("a numeric split on a categorical feature")
    column = np.zeros(len(nodes), dtype=np.intp)
    # NaN compares false (goes right) in the plain copy and goes left in the -inf copy.
    goes_left = nodes["missing_go_to_left"][numeric].astype(np.intp)
    column[numeric] = feature + splits.n_features * goes_left
    threshold = np.full(len(nodes), np.nan)
    threshold[numeric] = nodes["num_threshold"][numeric]
    return column, threshold


def _inner_columns(
    ensemble: HistGradientBoostingClassifier, features: FeatureSpec, slots: int
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Per column the trees read, the encoded column it comes from; per categorical one, the
    classifier's own code for each of our code slots (the trees re-encode categories)."""
    n_features = len(features.columns)
    if ensemble.n_features_in_ != n_features:
        raise UnsupportedPipelineError("the trees read a different number of columns")
    inner = ensemble._preprocessor
    if inner is None:
        if features.categorical:
            raise UnsupportedPipelineError("the trees were not told which columns are categories")
        return np.arange(n_features), {}
    source = np.full(n_features, -1, dtype=np.intp)
    inner_codes = {}
    for name, step, mask in inner.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        selected = np.flatnonzero(np.asarray(mask))
        positions = np.arange(n_features)[inner.output_indices_[name]]
        if len(positions) != len(selected):
            raise UnsupportedPipelineError("the trees' inner column step is not one-to-one")
        source[positions] = selected
        if name == "encoder":
            _check_inner_encoder(step, selected, len(features.numeric))
            for position, values in zip(positions, step.categories_):
                inner_codes[int(position)] = _slot_codes(values, slots)
        elif name != "numerical" or not isinstance(step, FunctionTransformer):
            raise UnsupportedPipelineError(f"unexpected inner step {name}")
    if np.any(source < 0):
        raise UnsupportedPipelineError("the trees' inner column step drops columns")
    return source, inner_codes


def _check_inner_encoder(step: object, selected: np.ndarray, n_numeric: int) -> None:
    if not isinstance(step, OrdinalEncoder) or step.handle_unknown != "use_encoded_value":
        raise UnsupportedPipelineError("unexpected inner encoder in the trees")
    if not _codes_nan(step):
        raise UnsupportedPipelineError("the trees' inner encoder does not code unknowns as NaN")
    if np.any(selected < n_numeric):
        raise UnsupportedPipelineError("the trees treat a numeric feature as categorical")


def _slot_codes(values: np.ndarray, slots: int) -> np.ndarray:
    """The inner encoder's code for each of our codes 0..slots-2, then for NaN (last slot)."""
    seen = {float(v): i for i, v in enumerate(values) if not np.isnan(v)}
    return np.array([seen.get(float(code), np.nan) for code in range(slots - 1)] + [np.nan])


def _category_rule(
    node: np.void, codes: np.ndarray, left_bitsets: np.ndarray, known_bitset: np.ndarray
) -> np.ndarray:
    """Per code slot, 0.0 (left) or 1.0 (right), decided as sklearn's _predictor.pyx does:
    NaN or negative -> the missing side; in the left bitset -> left; a known category ->
    right; anything else -> the missing side."""
    missing_side = 0.0 if node["missing_go_to_left"] else 1.0
    if node["bitset_idx"] >= len(left_bitsets):
        raise UnsupportedPipelineError("a categorical split without its bitset")
    rule = np.full(len(codes), missing_side)
    valid = ~np.isnan(codes) & (codes >= 0)
    if np.any(codes[valid] >= 256):
        raise UnsupportedPipelineError("more than 256 categories in one feature")
    code = codes[valid].astype(np.uint32)
    in_left = (left_bitsets[node["bitset_idx"]][code // 32] >> (code % 32)) & 1
    known = (known_bitset[code // 32] >> (code % 32)) & 1
    rule[valid] = np.where(in_left == 1, 0.0, np.where(known == 1, 1.0, missing_side))
    return rule


def _flatten(trees: list[_Tree]) -> dict[str, Any]:
    """Concatenate the trees, renumbered so that each split's right child precedes its left.

    Tree ``t``'s root becomes node ``t``; the ``k``-th split puts its children at ``T + 2k``
    (right) and ``T + 2k + 1`` (left); leaves point at themselves. Splits are counted level by
    level across all trees, so each traversal step gathers from one compact block of nodes.
    """
    n_trees = len(trees)
    sizes = np.array([len(tree.nodes) for tree in trees], dtype=np.intp)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    nodes = np.concatenate([tree.nodes for tree in trees])
    owner = np.repeat(start, sizes)  # per node: where its tree starts
    split = np.flatnonzero(~nodes["is_leaf"].astype(bool))
    rank = np.empty(len(split), dtype=np.intp)
    rank[np.lexsort((owner[split], nodes["depth"][split]))] = np.arange(len(split))
    right = n_trees + 2 * rank
    new = np.full(len(nodes), -1, dtype=np.intp)
    new[start] = np.arange(n_trees)
    new[owner[split] + nodes["right"][split].astype(np.intp)] = right
    new[owner[split] + nodes["left"][split].astype(np.intp)] = right + 1
    if np.any(new < 0) or len(np.unique(new)) != len(nodes):
        raise UnsupportedPipelineError("tree nodes are not laid out as binary trees")
    child = new.copy()
    child[split] = right
    flat = {
        "column": np.concatenate([tree.column for tree in trees]),
        "threshold": np.concatenate([tree.threshold for tree in trees]),
        "child": child,
        "value": nodes["value"].astype(float),
    }
    for name, values in flat.items():
        flat[name] = np.empty_like(values)
        flat[name][new] = values
    depths = np.array([tree.depth for tree in trees])
    flat["roots"] = np.arange(n_trees, dtype=np.intp)
    flat["active"] = tuple(int((depths > level).sum()) for level in range(int(depths.max())))
    return flat


def _check_against_sklearn(scorer: ForestScorer, pipelines: Mapping[str, Pipeline]) -> None:
    """Score probe rows both ways; refuse to exist when any probability differs."""
    records = _probe_records(scorer.features, scorer._forest, PROBE_ROWS)
    frame = scorer.features.prepare(pd.DataFrame(records, columns=list(scorer.features.columns)))
    refuse_if_not_sklearns(scorer.probabilities(records), pipelines, frame, "trees scored")


def refuse_if_not_sklearns(
    ours: Mapping[str, np.ndarray],
    pipelines: Mapping[str, Pipeline],
    frame: pd.DataFrame,
    what: str,
) -> None:
    """Raise ``UnsupportedPipelineError`` naming the first target whose probabilities on
    ``frame`` differ from its pipeline's by more than ``TOLERANCE``."""
    for target, pipeline in pipelines.items():
        proba = pipeline.predict_proba(frame)
        theirs = proba[:, 1] if proba.shape[1] == 2 else proba
        if not np.allclose(ours[target], theirs, rtol=0, atol=TOLERANCE):
            raise UnsupportedPipelineError(f"{target}: {what} differently from sklearn")


def _probe_records(features: FeatureSpec, forest: _Forest, n: int) -> list[dict[str, Any]]:
    """Rows that sit exactly on and just above the trees' thresholds, with blanks, blank text
    and unseen categories mixed in: where a wrong comparison or missing rule would show."""
    rng = np.random.default_rng(0)
    width = len(features.columns)
    numeric = (forest.column < 2 * width) & np.isfinite(forest.threshold)
    on_column = forest.column[numeric] % width
    thresholds = forest.threshold[numeric]
    edges = [thresholds[on_column == f] for f in range(len(features.numeric))]
    records = []
    for _ in range(n):
        record: dict[str, Any] = {}
        for name, options in zip(features.numeric, edges):
            edge = float(options[rng.integers(len(options))]) if len(options) else 0.0
            record[name] = [np.nan, edge, float(np.nextafter(edge, np.inf))][rng.integers(3)]
        for name, values in features.categorical.items():
            options = [*values, None, "", "unseen category"]
            record[name] = options[rng.integers(len(options))]
        records.append(record)
    return records
