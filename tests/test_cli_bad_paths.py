"""Every command, every path argument, every kind of bad path: one clear line, nothing written.

The commands are read from the Typer app itself (sub-apps included), and each path
parameter's role from its annotation (``annotate.cli._paths``), so a new command is driven
here without a line of this file changing, and a path parameter without a role fails.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperArgument, TyperGroup
from typer.testing import CliRunner

from annotate.cli import app
from annotate.cli._app import CheckedCommand
from annotate.cli._paths import INPUT_FILE, PathRole, path_roles

ROOT = Path(__file__).resolve().parent.parent
# Nothing listens here: a command that connected before checking its paths would say E301.
UNREACHABLE = "http://127.0.0.1:9"
# Parameters that take a path but also a name, checked where the name is resolved.
NAME_OR_PATH = {
    ("preannotate", "model"): "a pipeline name or path: the pipeline loader says E230",
    ("train", "base"): "a pipeline name or path: the pipeline loader says E230",
}
# Names that say "a path" when the type (a str, for `-`) does not.
PATH_NAMES = {"inputs", "files", "out", "gold", "pred", "tasks", "corpus", "html", "since", "recipe"}


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield ``(words, click command)`` for every command of the app, sub-apps included."""

    def walk(group: TyperGroup, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        for name, cmd in sorted(group.commands.items()):
            if isinstance(cmd, TyperGroup):
                yield from walk(cmd, (*prefix, name))
            else:
                yield (*prefix, name), cmd

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    yield from walk(root, ())


COMMANDS = dict(_commands())


def _mentions_path(hint: Any) -> bool:
    if hint is Path:
        return True
    return any(_mentions_path(a) for a in typing.get_args(hint))


def _path_like_params(words: tuple[str, ...], cmd: Any) -> list[str]:
    """The parameters of a command that take a path, by type or by name."""
    fn = cmd.callback.__wrapped__
    hints = typing.get_type_hints(fn)
    return [
        name
        for name, hint in hints.items()
        if name != "return" and (_mentions_path(hint) or name in PATH_NAMES or name.endswith("_dir"))
    ]


def test_the_app_has_the_commands_of_annotate_help() -> None:
    names = {" ".join(w) for w in COMMANDS}
    assert {"preannotate", "push", "pull", "export", "validate", "server start", "server logs"} <= names


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_every_command_checks_its_paths_and_every_path_parameter_has_a_role(words: tuple[str, ...]) -> None:
    cmd = COMMANDS[words]
    assert isinstance(cmd, CheckedCommand), f"{' '.join(words)} is not a CheckedCommand: use cli._app.App"
    roles = path_roles(cmd.callback)
    for name in _path_like_params(words, cmd):
        assert name in roles or (words[-1], name) in NAME_OR_PATH, (
            f"`annotate {' '.join(words)}`: the path parameter {name!r} has no PathRole in its Annotated type"
        )


# -- the bad paths ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    words: tuple[str, ...]
    param: str
    kind: str

    @property
    def id(self) -> str:
        return f"{' '.join(self.words)}:{self.param}:{self.kind}"


def _kinds(role: PathRole, roles: dict[str, PathRole]) -> list[str]:
    has_input = any(r.direction == "input" for r in roles.values())
    if role.direction == "input":
        kinds = ["missing", "unreadable", "no-parent"]
        if role.kind != "file_or_folder":
            kinds.append("wrong-kind")
        return kinds
    kinds = ["wrong-kind", "unwritable", "no-parent"]
    if has_input and (role.kind == "file" or role.force is not None or _input_folder(roles)):
        kinds.append("an-input")
    if role.force is not None:
        kinds.append("exists")
    return kinds


def _input_folder(roles: dict[str, PathRole]) -> str | None:
    return next((n for n, r in roles.items() if r.direction == "input" and r.kind == "folder"), None)


def _cases() -> list[Case]:
    cases = []
    for words, cmd in COMMANDS.items():
        roles = path_roles(cmd.callback)
        for name, role in roles.items():
            cases.extend(Case(words, name, kind) for kind in _kinds(role, roles))
    return cases


CASES = _cases()


def test_the_bad_paths_reach_every_path_parameter() -> None:
    covered = {(c.words, c.param) for c in CASES}
    for words, cmd in COMMANDS.items():
        for name in path_roles(cmd.callback):
            assert (words, name) in covered


class Layout:
    """A tmp folder with a valid path for every parameter, and the bad ones."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "in" / "corpus").mkdir(parents=True)
        (root / "in" / "corpus" / "a.txt").write_text("NATO met in Kyiv.", encoding="utf-8")
        (root / "in" / "adir").mkdir()
        (root / "in" / "afile.txt").write_text("x", encoding="utf-8")
        (root / "out" / "adir").mkdir(parents=True)
        (root / "out" / "afile.txt").write_text("x", encoding="utf-8")
        (root / "ro").mkdir()

    def valid(self, name: str, role: PathRole) -> str:
        if role.direction == "input":
            if role.kind == "folder":
                return str(self.root / "in" / "corpus")
            path = self.root / "in" / f"{name}.jsonl"
            path.write_text('{"text": "NATO met in Kyiv."}\n', encoding="utf-8")
            return str(path)
        return str(self.root / "out" / (name if role.kind == "folder" else f"{name}.jsonl"))

    def bad(self, case: Case, role: PathRole, values: dict[str, str]) -> str:
        r, name = self.root, case.param
        if case.kind == "missing":
            return str(r / "in" / f"missing-{name}.jsonl")
        if case.kind == "no-parent":
            if role.direction == "input":
                return str(r / "nope" / f"{name}.jsonl")
            return str(r / "out" / "afile.txt" / "sub" / name)  # a file is in the way
        if case.kind == "wrong-kind":
            side = "in" if role.direction == "input" else "out"
            return str(r / side / ("afile.txt" if role.kind == "folder" else "adir"))
        if case.kind == "unreadable":
            locked = _make(r / "in" / f"locked-{name}", role, "{}\n")
            locked.chmod(0)
            return str(locked)
        if case.kind == "unwritable":
            r.joinpath("ro").chmod(0o555)
            return str(r / "ro" / name)
        if case.kind == "exists":
            return str(_make(r / "out" / f"exists-{name}", role, "keep"))
        assert case.kind == "an-input"
        return self._an_input(case, role, values)

    def _an_input(self, case: Case, role: PathRole, values: dict[str, str]) -> str:
        roles = path_roles(COMMANDS[case.words].callback)
        folder = _input_folder(roles)
        if role.kind == "folder" and folder is not None:
            return values[folder]
        some_input = next(n for n, rr in roles.items() if rr.direction == "input" and rr.kind != "folder")
        return values[some_input] if role.kind == "file" else str(Path(values[some_input]).parent)


def _make(path: Path, role: PathRole, text: str) -> Path:
    """Make ``path`` as the kind ``role`` names: an empty folder, or a file holding ``text``."""
    if role.kind == "folder":
        path.mkdir()
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _argv(case: Case, layout: Layout) -> tuple[list[str], str]:
    """The command line of a case (every other argument valid) and the bad path."""
    cmd = COMMANDS[case.words]
    roles = path_roles(cmd.callback)
    # A parameter that turns an output into an input (adjudicate --resolved) is given only
    # when it is the one under test; the output it turns is then a valid input.
    flips = {r.read_when for r in roles.values() if r.read_when}
    values = {
        name: layout.valid(name, role)
        for name, role in roles.items()
        if name not in flips or name == case.param
    }
    for name, role in roles.items():
        if role.read_when in values and name != case.param:
            values[name] = layout.valid(name, INPUT_FILE)
    bad = layout.bad(case, roles[case.param], values)
    values[case.param] = bad
    force = roles[case.param].force
    args: list[str] = list(case.words)
    for param in cmd.params:
        value = values.get(param.name) or _filler(param)
        if value is None:
            continue
        if isinstance(param, TyperArgument):
            args.append(value)
        else:
            args += [param.opts[0], value]
    if force is not None and case.kind in ("an-input", "wrong-kind", "unwritable", "no-parent"):
        # --force must not let a wrong path through.
        args.append("--" + force.replace("_", "-"))
    return args, bad


def _filler(param: Any) -> str | None:
    """A valid value for a required parameter that is not a path (its value does not matter)."""
    if not param.required:
        return None
    choices = getattr(param.type, "choices", None)
    if choices:
        return str(next(iter(choices)))
    return "1" if param.type.name == "integer" else "x"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.lstat()
            out[str(p.relative_to(root))] = (
                st.st_size if not stat.S_ISDIR(st.st_mode) else -1,
                st.st_mtime_ns,
            )
    return out


def _env(root: Path) -> dict[str, str]:
    return {
        "DOCCANO_URL": UNREACHABLE,
        "DOCCANO_USERNAME": "nobody",
        "DOCCANO_PASSWORD": "not-a-password",
        "ANNOTATE_HOME": str(root / "home"),  # must not be created either
        "ANNOTATE_NO_PROGRESS": "1",
    }


def _as_unprivileged_root() -> list[str] | None:
    """A prefix that runs a command without root's power to read any file, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"] if setpriv else None


def _run(args: list[str], root: Path, *, subprocess_: bool) -> tuple[int, str]:
    if not subprocess_:
        result = CliRunner().invoke(app, args, env=_env(root))
        return result.exit_code, result.output
    prefix = _as_unprivileged_root()
    if prefix is None:
        pytest.skip("running as root without setpriv: root reads any file, so nothing is unreadable")
    env = {**os.environ, **_env(root), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "annotate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_bad_path_is_one_line_naming_it_and_nothing_is_written(case: Case, tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    args, bad = _argv(case, layout)
    before = _snapshot(tmp_path)
    try:
        code, output = _run(args, tmp_path, subprocess_=case.kind in ("unreadable", "unwritable"))
    finally:
        for p in tmp_path.rglob("*"):
            if not p.is_symlink():
                p.chmod(0o755)
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert "Traceback" not in output
    assert len(lines) == 1 and lines[0].startswith("error: [E2") and bad in lines[0], output
    assert _snapshot(tmp_path) == before


# -- the same checks, case by case --------------------------------------------------------------------


def _invoke(args: list[str], root: Path) -> tuple[int, str]:
    return _run(args, root, subprocess_=False)


def test_an_output_that_is_a_symlink_or_hard_link_to_an_input_is_refused(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("{}\n", encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(gold)
    os.link(gold, tmp_path / "hard.jsonl")
    for out in ("link.jsonl", "hard.jsonl"):
        code, output = _invoke(
            ["evaluate", "--pred", str(gold), "--gold", str(gold), "--html", str(tmp_path / out), "--force"],
            tmp_path,
        )
        assert code == 2 and "[E204]" in output and "is also the input --pred" in output, output
    assert gold.read_text(encoding="utf-8") == "{}\n"


def test_an_output_folder_that_holds_an_input_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    gold = tmp_path / "data" / "gold.jsonl"
    gold.write_text("{}\n", encoding="utf-8")
    code, output = _invoke(
        ["export", str(gold), "--to", "brat", "--out", str(tmp_path / "data"), "--force"], tmp_path
    )
    assert code == 2 and "[E204]" in output and "holds the input GOLD" in output, output
    assert gold.exists()


def test_an_existing_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("NATO met.", encoding="utf-8")
    out = tmp_path / "docs" / "tasks.jsonl"
    out.write_text("keep\n", encoding="utf-8")
    recipe = str(ROOT / "recipes" / "news.toml")
    code, output = _invoke(
        ["preannotate", str(tmp_path / "docs"), "--recipe", recipe, "--out", str(out), "--force"], tmp_path
    )
    assert code == 2 and "[E204]" in output and "read as an input" in output, output
    assert out.read_text(encoding="utf-8") == "keep\n"


def test_a_missing_parent_of_an_output_is_created_as_documented(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("NATO met in Kyiv.", encoding="utf-8")
    out = tmp_path / "new" / "deeper" / "tasks.jsonl"
    recipe = str(ROOT / "recipes" / "news.toml")
    code, output = _invoke(
        [
            "preannotate",
            str(tmp_path / "a.txt"),
            "--recipe",
            recipe,
            "--model",
            "blank:en",
            "--out",
            str(out),
        ],
        tmp_path,
    )
    assert code == 0, output
    assert out.exists()


def test_stdio_dashes_are_not_paths(tmp_path: Path) -> None:
    recipe = str(ROOT / "recipes" / "news.toml")
    result = CliRunner().invoke(
        app,
        ["preannotate", "-", "--recipe", recipe, "--model", "blank:en", "--out", "-"],
        input="NATO met in Kyiv.",
    )
    assert result.exit_code == 0, result.output
    assert '"doc_id": "stdin"' in result.stdout


@pytest.mark.parametrize("words", [("preannotate",), ("train",)])
def test_a_missing_pipeline_path_is_a_clear_error(words: tuple[str, ...], tmp_path: Path) -> None:
    recipe = str(ROOT / "recipes" / "news.toml")
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"text": "x"}\n', encoding="utf-8")
    missing = str(tmp_path / "no-such-model")
    if words == ("preannotate",):
        args = [
            "preannotate",
            str(gold),
            "--recipe",
            recipe,
            "--out",
            str(tmp_path / "t.jsonl"),
            "--model",
            missing,
        ]
    else:
        args = ["train", str(gold), "--recipe", recipe, "--out", str(tmp_path / "m"), "--base", missing]
    code, output = _invoke(args, tmp_path)
    assert code != 0 and "Traceback" not in output and "error: [E" in output, output
    assert not (tmp_path / "t.jsonl").exists() and not (tmp_path / "m").exists()


# -- the cases, through the real entry point ------------------------------------------------------


def _annotate(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **_env(root), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "annotate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )


def test_export_of_a_missing_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    proc = _annotate(tmp_path, "export", "MISSING.jsonl", "--to", "brat", "--out", "DIR")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "error: [E201] GOLD MISSING.jsonl: no such file or folder; check the path"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_preannotate_out_an_existing_folder_fails_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "DIR").mkdir()
    proc = _annotate(
        tmp_path,
        "preannotate",
        str(ROOT / "corpus"),
        "--recipe",
        str(ROOT / "recipes" / "news.toml"),
        "--out",
        "DIR",
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "error: [E202] --out DIR: is a folder, but a file is meant; name the file to write"
    )
    assert "Traceback" not in proc.stderr and "components" not in proc.stderr  # no pipeline ran
    assert list((tmp_path / "DIR").iterdir()) == []


def test_pull_out_an_existing_folder_fails_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "DIR").mkdir()
    proc = _annotate(tmp_path, "pull", "--project", "P", "--out", "DIR")
    assert proc.returncode == 2, proc.stderr  # not 3: the unreachable server was never asked
    assert proc.stderr.startswith("error: [E202] --out DIR: is a folder") and "E301" not in proc.stderr
    assert list((tmp_path / "DIR").iterdir()) == []


def test_push_of_a_missing_file_fails_before_connecting(tmp_path: Path) -> None:
    recipe = str(ROOT / "recipes" / "news.toml")
    proc = _annotate(tmp_path, "push", "missing.jsonl", "--project", "P", "--recipe", recipe)
    assert proc.returncode == 2 and "[E201] TASKS missing.jsonl" in proc.stderr and "E301" not in proc.stderr


def test_a_folder_written_into_may_hold_an_input_but_one_replaced_whole_may_not(tmp_path: Path) -> None:
    from annotate.cli._paths import INPUT_FILE, OUTPUT_FOLDER, WORK_FOLDER, check_paths
    from annotate.errors import PathError

    (tmp_path / "out").mkdir()
    recipe = tmp_path / "out" / "recipe.toml"
    recipe.write_text("", encoding="utf-8")
    values = {"recipe": str(recipe), "out": str(tmp_path / "out"), "force": True}
    check_paths({"recipe": INPUT_FILE, "out": WORK_FOLDER}, values, {})  # annotate run writes its files in it
    with pytest.raises(PathError) as e:
        check_paths({"recipe": INPUT_FILE, "out": OUTPUT_FOLDER}, values, {"out": "--out"})
    assert e.value.code == "E204" and "holds the input" in str(e.value)


def test_adjudicate_conflicts_are_written_or_with_resolved_read(tmp_path: Path) -> None:
    from annotate.cli._paths import CONFLICTS_FILE, OUTPUT_FILE, check_paths
    from annotate.errors import PathError

    roles = {
        "per_annotator": INPUT_FILE,
        "out": OUTPUT_FILE,
        "conflicts": CONFLICTS_FILE,
        "resolved": INPUT_FILE,
    }
    for name in ("per", "conflicts", "resolved"):
        (tmp_path / f"{name}.jsonl").write_text("{}\n", encoding="utf-8")
    values = {
        "per_annotator": str(tmp_path / "per.jsonl"),
        "out": str(tmp_path / "gold.jsonl"),
        "conflicts": str(tmp_path / "conflicts.jsonl"),
    }
    with pytest.raises(PathError) as e:  # written: it exists
        check_paths(roles, values, {})
    assert e.value.code == "E220"
    check_paths(roles, {**values, "resolved": str(tmp_path / "resolved.jsonl")}, {})  # read back
    with pytest.raises(PathError) as e:
        check_paths(
            roles,
            {**values, "conflicts": str(tmp_path / "x.jsonl"), "resolved": str(tmp_path / "resolved.jsonl")},
            {},
        )
    assert e.value.code == "E201"


def test_an_output_that_is_an_input_is_said_so_before_asking_for_force(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("{}\n", encoding="utf-8")
    code, output = _invoke(
        ["evaluate", "--pred", str(gold), "--gold", str(gold), "--html", str(gold)], tmp_path
    )
    assert code == 2 and "[E204]" in output and "--force" not in output, output


def test_two_outputs_of_one_command_naming_the_same_file_are_refused(tmp_path: Path) -> None:
    per = tmp_path / "per.jsonl"
    per.write_text("{}\n", encoding="utf-8")
    same = tmp_path / "gold.jsonl"
    code, output = _invoke(["adjudicate", str(per), "--out", str(same), "--conflicts", str(same)], tmp_path)
    assert code == 2 and "[E206]" in output and "is also the output --out" in output, output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per.jsonl"]
