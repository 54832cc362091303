"""``gymkit training-report``: checklist step 6, curves and a trend test over a training log."""

from __future__ import annotations

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
    if paths is not None:
        metrics = _inside_the_repository(metrics, paths, folder)
    result = training_from_file(
        metrics,
        step_col=step_col,
        train_col=train_col,
        test_col=test_col,
        alpha=alpha,
        server_dir=paths.dir if paths else None,
    )
    write_training(result, folder)
    for key in ("train", "test_benchmark"):
        part = result.report.get(key)
        if part and part["p_value"] is not None:
            verdict = "improved" if part["improved"] else "no significant improvement"
            typer.echo(f"{key} ({part['column']}): {part['first']:.4g} -> {part['last']:.4g}, "
                       f"{part['test']} p = {part['p_value']:.3g}: {verdict}")  # fmt: skip
    typer.echo(f"wrote {folder / 'training.json'} and training.md")


def _inside_the_repository(metrics: Path, paths: ServerPaths, folder: Path) -> Path:
    """The log itself when the repository holds it, else a copy of it in the report folder.

    The report names its log and GYM602 checks that log on the reviewer's machine, so a log in
    ~/Downloads would fail there: it is copied where it is committed with the report.
    """
    from gymkit.profiling.report import shown_path

    if metrics.resolve().is_relative_to(paths.root.resolve()):
        return metrics
    copy = folder / metrics.name
    try:
        data = metrics.read_bytes()
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(copy, data)
    except OSError as exc:
        raise UserError(f"{exc.filename or copy}: cannot copy the metrics file there: {exc.strerror}") from None
    typer.echo(f"copied {metrics} to {shown_path(copy, paths.dir)}: the report names it; commit it with the report")
    return copy


def register(app: typer.Typer) -> None:
    app.command("training-report", rich_help_panel="Rollouts & rewards")(training_report)
