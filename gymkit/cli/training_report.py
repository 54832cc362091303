"""``gymkit training-report``: checklist step 6, curves and a trend test over a training log."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer

from gymkit.errors import UserError
from gymkit.jsonl import atomic_write_bytes
from gymkit.project import ServerPaths

__all__ = ["register", "training_report"]


def training_report(
    metrics: Annotated[Path, typer.Option(help="Training log: CSV (a W&B export works) or JSONL; a file outside "
                                          "the repository is copied next to the report.", exists=True,
                                          dir_okay=False)],
    server: Annotated[str | None, typer.Argument(help="Server whose reports/training/ receives the report.")] = None,
    output: Annotated[Path | None, typer.Option(help="Report folder (default: the server's reports/training/).",
                                                file_okay=False)] = None,
    step_col: Annotated[str | None, typer.Option(help="Step column (default: detected).")] = None,
    train_col: Annotated[str | None, typer.Option(help="Training accuracy/reward column (default: detected).")] = None,
    test_col: Annotated[str | None, typer.Option(help="Validation/test benchmark column (default: detected).")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the trend test.", min=0.0001, max=0.5)] = 0.05,
) -> None:  # fmt: skip
    """Plot GRPO training curves and test whether training improved (Mann-Kendall trend test)."""
    from gymkit.profiling.training import training_from_file, write_training
    from gymkit.project import resolve_server

    if server is None and output is None:
        raise UserError("name a server or pass --output DIR", hint="gymkit training-report --metrics FILE NAME")
    paths = resolve_server(server) if server else None
    folder = output or paths.training  # type: ignore[union-attr]  # paths is set when output is not
    outside = paths is not None and not metrics.resolve().is_relative_to(paths.root.resolve())
    if outside:
        _refuse_report_names(metrics, folder)
    # The user's own file is read and judged first: a bad log leaves nothing behind and is named as given.
    result = training_from_file(
        metrics,
        step_col=step_col,
        train_col=train_col,
        test_col=test_col,
        alpha=alpha,
        server_dir=paths.dir if paths else None,
    )
    if outside:
        assert paths is not None
        _copy_next_to_the_report(metrics, folder, result.report["metrics_file"], paths)
    write_training(result, folder)
    for key in ("train", "test_benchmark"):
        part = result.report.get(key)
        if part and part["p_value"] is not None:
            verdict = "improved" if part["improved"] else "no significant improvement"
            typer.echo(f"{key} ({part['column']}): {part['first']:.4g} -> {part['last']:.4g}, "
                       f"{part['test']} p = {part['p_value']:.3g}: {verdict}")  # fmt: skip
    typer.echo(f"wrote {folder / 'training.json'} and training.md")


def _refuse_report_names(metrics: Path, folder: Path) -> None:
    from gymkit.profiling.training import REPORT_FILES

    if metrics.name in REPORT_FILES:
        raise UserError(
            f"{metrics}: a log named {metrics.name} would be copied over the report's own files in {folder}",
            hint=f"rename it (e.g. metrics{metrics.suffix or '.csv'}) and run again",
        )


def _copy_next_to_the_report(metrics: Path, folder: Path, named: dict[str, str], paths: ServerPaths) -> None:
    """Copy the log into the report folder, where it is committed with the report that names it.

    The report names its log and GYM602 checks that log on the reviewer's machine, so a log in
    ~/Downloads would fail there. ``named`` (the report's ``metrics_file``) then names the copy.
    """
    from gymkit.profiling.report import shown_path

    copy = folder / metrics.name
    try:
        data = metrics.read_bytes()
        existing = copy.read_bytes() if copy.is_file() else None
    except OSError as exc:
        raise UserError(f"{exc.filename or metrics}: cannot read it: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != named["sha256"]:
        raise UserError(f"{metrics}: the file changed while it was being read", hint="run the command again")
    if existing is not None and existing != data:
        raise UserError(
            f"{copy}: a different file of that name is already there; {metrics} would replace it",
            hint=f"rename {metrics.name}, or delete {shown_path(copy, paths.dir)} if it is an old copy of this log",
        )
    named["path"] = shown_path(copy, paths.dir)
    if existing is not None:
        typer.echo(f"{named['path']} already holds {metrics}: the report names it")
        return
    folder.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_bytes(copy, data)
    except OSError as exc:  # the folder itself could not be made
        raise UserError(f"{exc.filename or copy}: cannot copy the metrics file there: {exc.strerror}") from None
    typer.echo(f"copied {metrics} to {named['path']}: the report names it; commit it with the report")


def register(app: typer.Typer) -> None:
    app.command("training-report", rich_help_panel="Rollouts & rewards")(training_report)
