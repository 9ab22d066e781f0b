"""The ``insight`` command line: data, training, the model registry, prediction and the service."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.commands.window import WindowTime
from app.core.config import Settings
from training.customers.schema import DRIFTED_WORLDS
from training.text.drifted_phrases import DRIFTED_WORDINGS


class _InsightGroup(click.Group):
    """Reports the user's mistakes (a missing column, an unknown model) without a traceback."""

    def invoke(self, context: click.Context):
        from app.db.migrations import DatabaseRevisionError
        from app.services.model_lifecycle import LifecycleError
        from model_registry.registry import ModelNotFoundError
        from training.common.labels import DataError

        try:
            return super().invoke(context)
        except (DataError, ModelNotFoundError, DatabaseRevisionError, LifecycleError) as error:
            raise click.ClickException(str(error)) from None


def _settings(context: click.Context) -> Settings:
    return context.ensure_object(Settings)


@click.group(cls=_InsightGroup)
@click.pass_context
def main(context: click.Context) -> None:
    """Customer-insight models: generate data, train, register, promote, predict and serve."""
    from threadpoolctl import threadpool_limits

    # One OpenMP thread: tree models' spinning threads otherwise fight the service's own
    # threads and any other busy process (a fit measured 11 s with two threads, 0.7 s with one).
    threadpool_limits(limits=1, user_api="openmp")
    context.obj = Settings()


@main.group()
def data() -> None:
    """Generate the built-in data sets."""


@data.command("demands")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--n", "rows", type=click.IntRange(min=100), default=6000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--drift",
    type=click.Choice(list(DRIFTED_WORDINGS)),
    default=None,
    help="A drifted corpus: one category worded anew (docs/demand-corpus.md, Drifted worlds).",
)
@click.option(
    "--drifted-only",
    is_flag=True,
    help="With --drift: only texts of the drifted category, all in the new wording.",
)
def data_demands(out: Path, rows: int, seed: int, drift: str | None, drifted_only: bool) -> None:
    """Write the built-in Chinese demand corpus (text, category, spam, channel) as CSV."""
    from training.text.corpus import generate_demands, generate_drifted_demands

    if drifted_only and drift is None:
        raise click.UsageError("--drifted-only needs --drift")
    if drifted_only:
        frame = generate_drifted_demands(rows, seed=seed, drift=drift)
    else:
        frame = generate_demands(rows, seed=seed, drift=drift)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    click.echo(f"wrote {len(frame)} texts ({int(frame['spam'].sum())} spam) to {out}")


@data.command("customers")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--n", "rows", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
)
@click.option(
    "--labels/--no-labels",
    default=True,
    show_default=True,
    help="Keep the ground-truth columns (for training); leave them out for the customer store.",
)
@click.option(
    "--drift",
    type=click.Choice(list(DRIFTED_WORLDS)),
    default=None,
    help="A drifted world: a documented shift (docs/customer-world.md, Drifted worlds).",
)
def data_customers(
    out: Path, rows: int, seed: int, file_format: str, labels: bool, drift: str | None
) -> None:
    """Write the built-in customer world as chunk files (see docs/customer-world.md)."""
    from training.customers.world import write_customers

    with click.progressbar(length=rows, label="customers", file=sys.stderr) as bar:
        paths = write_customers(
            out,
            rows,
            seed=seed,
            file_format=file_format,
            labels=labels,
            drift=drift,
            progress=bar.update,
        )
    click.echo(f"wrote {rows} customers in {len(paths)} file(s) to {out}")


@main.group()
def train() -> None:
    """Train a model, log the run to MLflow and register a new version."""


def _feedback_options(command):
    """``--with-feedback`` and ``--since``, shared by every training command."""
    command = click.option(
        "--since",
        type=WindowTime(),
        default=None,
        help="With --with-feedback: only feedback received at or after this time "
        "(2026-11-01, 2026-11-01T08:00+08:00, 30d).",
    )(command)
    return click.option(
        "--with-feedback",
        is_flag=True,
        help="Add the feedback the service received (corrections, outcomes; docs/feedback.md) "
        "to the training data, and judge the new version against production on a held-out "
        "share of it.",
    )(command)


def _read_feedback(context: click.Context, reader: str, task, with_feedback: bool, since):
    """The feedback for ``task`` from the app database through ``reader`` (a function of
    app.services.feedback_training), or None without --with-feedback."""
    if not with_feedback:
        if since is not None:
            raise click.UsageError("--since needs --with-feedback")
        return None
    from datetime import UTC

    from app.db.migrations import ensure_up_to_date
    from app.db.session import create_engine_for, create_session_factory
    from app.services import feedback_training

    settings = _settings(context)
    url = settings.app_database_url()
    ensure_up_to_date(url)
    read = getattr(feedback_training, reader)
    engine = create_engine_for(url)
    try:
        with create_session_factory(engine)() as session:
            client = settings.mlflow_store().activate()
            return read(session, client, task, since and since.astimezone(UTC))
    finally:
        engine.dispose()


def _text_training_command(model_name: str) -> click.Command:
    @click.option(
        "--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    @click.option("--text-column", default="text", show_default=True)
    @click.option("--label-column", default=None, help="Defaults to the built-in corpus's column.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Split seed.")
    @click.option(
        "--candidates",
        default="all",
        show_default=True,
        help="The models cross-validation chooses among: all; default (words+chars, C=0.5, "
        "with no search); or feature views, comma-separated, from words+chars, chars, words.",
    )
    @click.option(
        "--target-precision",
        type=click.FloatRange(0.5, 1.0, max_open=True),
        default=0.95,
        show_default=True,
        help="Answers less confident than the level at which this share of them was right "
        "(out of fold, on the training split) say needs_review.",
    )
    @_feedback_options
    @click.pass_context
    def command(
        context,
        data_file,
        text_column,
        label_column,
        seed,
        candidates,
        target_precision,
        with_feedback,
        since,
    ) -> None:
        from training.text.trainer import TEXT_TASKS, train_text_task

        task = TEXT_TASKS[model_name]
        feedback = _read_feedback(context, "text_feedback", task, with_feedback, since)
        outcome = train_text_task(
            task,
            data_file=data_file,
            text_column=text_column,
            label_column=label_column or task.label_column,
            seed=seed,
            store=_settings(context).mlflow_store(),
            candidates=candidates,
            target_precision=target_precision,
            feedback=feedback,
        )
        click.echo(f"run id: {outcome.run_id}")
        click.echo(f"registered {model_name} version {outcome.version}")

    command.__doc__ = f"Train {model_name} on the built-in corpus or on --data CSV."
    return click.command(model_name)(command)


for _name in ("demand-classifier", "spam-filter"):
    train.add_command(_text_training_command(_name))


def _customer_training_command(model_name: str) -> click.Command:
    @click.option(
        "--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    @click.option(
        "--target",
        "targets",
        multiple=True,
        help="Label column(s); repeat for several. Defaults to the built-in world's.",
    )
    @click.option("--id-column", default=None, help="Customer id column, kept out of the features.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Split seed.")
    @click.option(
        "--candidates",
        default="all",
        show_default=True,
        help="The models cross-validation chooses among, per target: all; default (boosted "
        "trees, with no search); or families, comma-separated, from trees, logistic.",
    )
    @_feedback_options
    @click.pass_context
    def command(
        context, data_file, targets, id_column, seed, candidates, with_feedback, since
    ) -> None:
        from training.customers.tasks import CUSTOMER_TASKS
        from training.customers.trainer import train_customer_task

        task = CUSTOMER_TASKS[model_name]
        if with_feedback and targets and tuple(targets) != task.targets:
            raise click.UsageError(
                f"--with-feedback labels the targets {', '.join(task.targets)}: "
                "train other --target columns without it"
            )
        feedback = _read_feedback(context, "customer_feedback", task, with_feedback, since)
        outcome = train_customer_task(
            task,
            data_file=data_file,
            targets=tuple(targets),
            id_column=id_column,
            seed=seed,
            store=_settings(context).mlflow_store(),
            candidates=candidates,
            feedback=feedback,
        )
        click.echo(f"run id: {outcome.run_id}")
        click.echo(f"registered {model_name} version {outcome.version}")

    command.__doc__ = f"Train {model_name} on the built-in customer world or on --data CSV/Parquet."
    return click.command(model_name)(command)


for _name in ("churn", "channel-preference", "occupation", "content-preference"):
    train.add_command(_customer_training_command(_name))


@main.command()
@click.argument("model_names", nargs=-1)
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    help="A Parquet or CSV file, or a folder of them (UTF-8 or GB18030 CSV).",
)
@click.option("--from-db", is_flag=True, help="Score the customers of the app database.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new folder, or the folder of an earlier run of the same job to finish it.",
)
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local engine: processes (default: one per core).",
)
@click.option(
    "--spark-master", default=None, help="Spark engine: the master URL (default: local[*])."
)
@click.option("--text-column", default="text", show_default=True, help="For text models.")
@click.option(
    "--id-column",
    default=None,
    help="Copied into the answers (default: customer_id, when the table has it).",
)
@click.option("--alias", default=None, help="Registry alias to use (default: production).")
@click.option("--version", default=None, help="A version number instead of an alias (one model).")
@click.pass_context
def predict(
    context,
    model_names,
    data,
    from_db,
    out,
    fmt,
    engine,
    workers,
    spark_master,
    text_column,
    id_column,
    alias,
    version,
) -> None:
    """Score a table with registered models (all four customer models by default) into a
    folder of Parquet (or CSV) answer files, one column per answer, with each model's version;
    bad rows are skipped and listed in OUT/_bad_rows.csv."""
    import tempfile

    from app.batch import predict as batch
    from app.batch.job import JobFolder

    if alias and version:
        raise click.UsageError("give --alias or --version, not both")
    if (data is None) == (not from_db):
        raise click.UsageError("give --data FILE_OR_FOLDER or --from-db")
    settings = _settings(context)
    database_url = settings.app_database_url() if from_db else None
    parts, source, id_column = batch.job_input(data, database_url, id_column)
    client = settings.mlflow_store().activate()
    with tempfile.TemporaryDirectory(prefix="insight-predict-") as models_folder:
        models = batch.model_sources(
            client, model_names, alias=alias, version=version, download_to=Path(models_folder)
        )
        job = batch.BatchJob(parts, source, models, id_column, text_column, JobFolder(out, fmt))
        totals = batch.run(
            job,
            engine=engine,
            workers=workers or batch.default_workers(),
            spark_master=spark_master,
        )
    versions = ", ".join(f"{m.name} {m.version}" for m in models)
    click.echo(f"wrote {totals['rows']:,} rows of answers from {versions} to {out}")
    if totals["bad_rows"]:
        click.echo(f"skipped {totals['bad_rows']:,} bad rows: see {out / '_bad_rows.csv'}")


@main.command()
@click.option("--host", default=None, help="Defaults to INSIGHT_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Defaults to INSIGHT_PORT (8000).")
@click.pass_context
def serve(context: click.Context, host: str | None, port: int | None) -> None:
    """Start the HTTP service (uvicorn) on the models behind the configured alias."""
    from app.server import run_server

    settings = _settings(context)
    run_server(settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v}))


from app.commands import (  # noqa: E402
    captures,
    customers,
    db,
    feedback,
    keys,
    models,
    monitor,
    replay,
)

main.add_command(captures.captures)
main.add_command(customers.customers)
main.add_command(db.db)
main.add_command(feedback.feedback)
main.add_command(keys.keys)
main.add_command(models.models)
main.add_command(monitor.monitor)
main.add_command(replay.replay)


if __name__ == "__main__":
    main()
