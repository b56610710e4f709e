"""`segito test-run`: a package's test runs (docs/studio.md, "Test runs") from its folder, with no database, or
from a stored version (a draft before it is published)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli_support import _actor, _out, _runtime


def summary(report: dict) -> list[str]:
    """The report as lines a person reads: per file, the paths and the gateway flows taken; each stuck path with
    where it stopped and why; each flow no path took."""
    lines = [f"{p['file']}{':' + str(p['line']) if p['line'] else ''}: {p['message']}" for p in report["problems"]]
    for run in report["runs"]:
        flows = run["gateway_flows"]
        taken = sum(f["taken"] for f in flows)
        lines.append(f"{report['package']} · {run['file']} ({run['process']}): {len(run['paths'])} paths, "
                     f"{run['ended']} ended, {run['stuck']} stuck; gateway flows taken {taken}/{len(flows)} "
                     f"({run['seconds']:.2f} s)")
        for path in run["paths"]:
            if path["outcome"] == "stuck":
                trail = " > ".join(s.get("task") or f"timer {s['timer']}" for s in path["steps"]) or "(start)"
                lines.append(f"  stuck after {trail}, at {', '.join(path['where']) or '?'}: {path['why']}")
        lines += [f"  no path took {f['gateway']} → {f['to']}" for f in flows if not f["taken"]]
        lines += [f"  data set never taken: {d}" for d in run["unused_data_sets"]]
    lines.append("passed" if report["passed"] else "FAILED")
    return lines


@click.command("test-run")
@click.argument("target")
@click.option("--version", "version", type=int, default=None,
              help="With a package key: the stored version to run (default: the newest, a draft included).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option("--as", "username", envvar="SEGITO_USER", default=None,
              help="the acting user (or SEGITO_USER); needed for a deployed package, not for a folder")
def test_run_command(target, version, as_json, username):
    """Run a package's test runs: TARGET is a package folder (bpmn/<service>, no database needed) or the key of
    a deployed package (designers). Exits 1 when a path gets stuck or the package has a problem."""
    from . import packages, setup
    from .studio import test_runs

    setup.wire()
    if Path(target).is_dir():
        package = packages.from_folder(target)
    else:
        from .people import access

        if not username:
            raise click.UsageError("a deployed package's test runs need --as (a designer), or give its folder")
        runtime = _runtime()
        access.require_designer(_actor(runtime, username))
        if version is None:
            with runtime.db.reading() as session:
                found = packages.package_history(session, target)["versions"]
            if not found:
                raise click.UsageError(f"no package '{target}' is deployed, and no folder is called so")
            version = found[0]["version"]
        package = packages.from_files(packages.files_of(runtime, target, version), target)
    report = test_runs.run(package)
    if as_json:
        _out(report)
    else:
        click.echo("\n".join(summary(report)))
    sys.exit(0 if report["passed"] else 1)
