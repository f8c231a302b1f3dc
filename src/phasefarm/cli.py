"""The `phasefarm` command line: typer app, rich progress, one-line errors.

Every command lets `UsageError` (and its subclasses GraphError, StoreError) rise; `main()` turns
it into one line on stderr and exit code 2, with no traceback. Exit codes: 0 all phases
succeeded, 1 the run finished with failures, 2 bad usage or bad input, 130 interrupted.
"""

from __future__ import annotations

import sys

import typer

from phasefarm.errors import UsageError

app = typer.Typer(
    name="phasefarm",
    help="Run multi-phase AI generation jobs as a dependency graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="Show waves, critical path and estimated time before spending a token.")
bench_app = typer.Typer(help="Benchmarks: side-by-side comparisons in one run, printed as a table.")
app.add_typer(plan_app, name="plan")
app.add_typer(bench_app, name="bench")


def fail(message: str) -> typer.Exit:
    """Print one line naming the problem and return the exit to raise (code 2)."""
    typer.echo(f"phasefarm: error: {message}", err=True)
    return typer.Exit(2)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="phasefarm", standalone_mode=False)
    except UsageError as exc:
        typer.echo(f"phasefarm: error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("phasefarm: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click's own usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            typer.echo("phasefarm: interrupted", err=True)
            sys.exit(130)
        raise
