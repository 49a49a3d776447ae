"""The core installs and starts without the server extras, and the `sgxra` command loads only what it runs.

Each check runs in a fresh interpreter whose import system refuses FastAPI, Starlette, pydantic, uvicorn and
redis (and pyOpenSSL), as if `pip install sgxra` had been run without `[server]`, `[redis]` or `[ratls]`.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sgxra.cli.lazy import EXTRA_FOR_PACKAGE
from sgxra.cli.main import COMMANDS
from vectors_env import SGX_AT_UNIX, SGX_COLLATERAL, SGX_QUOTE

ROOT = Path(__file__).resolve().parent.parent
EXTRAS_PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn", "redis", "OpenSSL")
WITHOUT_EXTRAS = f"""
import sys
from importlib.abc import MetaPathFinder

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {EXTRAS_PACKAGES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS + code, *args], capture_output=True, text=True,
                          timeout=120)


def run_sgxra(*args: str) -> subprocess.CompletedProcess[str]:
    return python("from sgxra.cli.main import main\nmain(sys.argv[1:], prog_name='sgxra')", *args)


def loaded(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """Top-level packages among ``prefixes`` that ``code`` leaves imported."""
    done = python(code + f"\nprint(sorted({{m.partition('.')[0] for m in sys.modules}} & set({prefixes!r})))")
    assert done.returncode == 0, done.stderr
    return list(ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def test_the_hook_refuses_what_it_should() -> None:
    done = python("import fastapi")
    assert done.returncode == 1 and "ModuleNotFoundError: No module named 'fastapi'" in done.stderr


@pytest.mark.usefixtures("vectors")
def test_library_imports_and_verifies_a_real_quote_without_extras() -> None:
    done = python(f"""
import sgxra, sgxra.verify
from datetime import datetime, timezone
from pathlib import Path
import sgxra.ias, sgxra.pcs, sgxra.protocol, sgxra.validate, sgxra.wire, sgxra.sim
from sgxra.transport.store import MemoryStore
from sgxra.transport.client import attest_tcp
exported = [getattr(sgxra, name) for name in sgxra.__all__]
quote = Path({str(SGX_QUOTE)!r}).read_bytes()
collateral = sgxra.Collateral.from_json(Path({str(SGX_COLLATERAL)!r}).read_bytes())
verdict = sgxra.verify_dcap_quote(quote, collateral, at=datetime.fromtimestamp({SGX_AT_UNIX}, timezone.utc))
print(len(exported), verdict.status.name)
""")
    assert done.returncode == 0, done.stderr
    count, status = done.stdout.split()
    assert int(count) == len(importlib.import_module("sgxra").__all__)
    assert status == "ConfigurationAndSWHardeningNeeded"  # as Intel judges it (test_cli_dcap.py)


def test_importing_sgxra_loads_none_of_its_parts() -> None:
    assert loaded("import sgxra", ("cryptography", "httpx", "click")) == []
    assert loaded("import sgxra.verify.pki", ("httpx",)) == []
    assert loaded("import sgxra.pcs.key", ("httpx",)) == []


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["verify-quote", "--help"], ["inspect", "--help"],
                                  *([name, "--help"] for name in sorted(COMMANDS))])
def test_every_command_answers_help_without_extras(args: list[str]) -> None:
    done = run_sgxra(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sgxra, version ") if args == ["--version"] else "Usage: sgxra" in done.stdout


def test_version_and_help_load_no_command_module_and_no_heavy_library() -> None:
    heavy = ("httpx", *EXTRAS_PACKAGES)
    version = "from sgxra.cli.main import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass"
    assert loaded(version, heavy) == []
    modules = python(version + "\nprint(sorted(m for m in sys.modules if m.startswith('sgxra')))").stdout
    for heavy_part in ("sgxra.cli.dcap_commands", "sgxra.verify.dcap", "sgxra.verify.ias", "sgxra.protocol.client",
                       "sgxra.api"):
        assert f"'{heavy_part}'" not in modules
    # `sgxra --help` imports every command module to list them: none may import httpx or an extra at its top.
    listing = version.replace("'--version'", "'--help'")
    assert loaded(listing, heavy) == []


def test_the_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    import sgxra

    assert sgxra.__version__ == version("sgxra")
    assert run_sgxra("--version").stdout.strip() == f"sgxra, version {version('sgxra')}"


@pytest.mark.parametrize(("args", "extra"), [
    (["demo"], "server"),
    (["ias-mock", "--port", "1"], "server"),
    (["pcs-mock", "--port", "1"], "server"),
    (["secret-prov", "serve", "--policy", "F", "--secret-file", "F", "--cert", "F", "--key", "F"], "ratls"),
])
def test_a_command_needing_a_missing_extra_says_which_in_one_line(args: list[str], extra: str, tmp_path: Path) -> None:
    if "--port" in args:
        args = [*args, "--state-dir", str(tmp_path)]
    (tmp_path / "F").write_text("")
    args = [str(tmp_path / "F") if arg == "F" else arg for arg in args]
    done = run_sgxra(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: sgxra {args[0]} needs ") and lines[0].endswith(f"pip install 'sgxra[{extra}]'")


@pytest.mark.parametrize(("options", "missing", "extra"), [
    (["--http-port", "1"], "fastapi", "server"),
    (["--redis", "redis://127.0.0.1:1/0"], "redis", "redis"),
])
def test_sp_options_needing_a_missing_extra_fail_before_serving(options: list[str], missing: str, extra: str,
                                                                tmp_path: Path) -> None:
    store_key = tmp_path / "store.key"
    store_key.write_text("k1:" + "ab" * 32 + "\n")
    done = run_sgxra("sp", "--insecure-sample-key", "--host", "127.0.0.1", "--port", "1",
                     "--log-file", str(tmp_path / "sp.log"), "--store-key-file", str(store_key), *options)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (f"error: sgxra sp needs {missing}, part of the '{extra}' extra: "
                                                    f"pip install 'sgxra[{extra}]'")
    assert "Traceback" not in done.stderr and "listening" not in done.stderr


def test_a_missing_module_of_ours_is_not_blamed_on_an_extra() -> None:
    done = python("import click\nfrom sgxra.cli.main import main, COMMANDS\n"
                  "COMMANDS['broken'] = 'sgxra.cli.no_such_module:cmd'\nmain(['broken'], prog_name='sgxra')")
    assert done.returncode == 1 and "ModuleNotFoundError: No module named 'sgxra.cli.no_such_module'" in done.stderr


def test_extras_hold_the_server_pieces_and_the_core_does_not() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for r in requirements}

    core = names(project["dependencies"])
    extras = {extra: names(reqs) for extra, reqs in project["optional-dependencies"].items()}
    assert {"cryptography", "httpx", "click"} <= core
    assert not core & set(EXTRAS_PACKAGES)
    assert {"fastapi", "uvicorn"} <= extras["server"] and "redis" in extras["redis"]
    # Every package the CLI maps to an extra is installed by that extra (directly, or through fastapi).
    distribution = {"starlette": "fastapi", "pydantic": "fastapi", "OpenSSL": "pyopenssl"}
    for package, extra in EXTRA_FOR_PACKAGE.items():
        assert distribution.get(package, package) in extras[extra]
    # `make test` and `make demo` install everything, as `pip install -e '.[dev]'` does.
    self_reference = next(r for r in project["optional-dependencies"]["dev"] if r.startswith("sgxra["))
    assert {"server", "redis"} <= set(self_reference.removeprefix("sgxra[").removesuffix("]").split(","))
    assert "'.[server,redis,dev]'" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("package", ["sgxra", "sgxra.ias", "sgxra.pcs", "sgxra.protocol", "sgxra.sim",
                                     "sgxra.verify", "sgxra.wire"])
def test_lazy_exports_match_all_and_the_type_checking_imports(package: str) -> None:
    module = importlib.import_module(package)
    exports: dict[str, str] = module._EXPORTS
    assert set(exports) <= set(module.__all__)
    assert all(name in vars(module) for name in set(module.__all__) - set(exports))  # the rest is bound eagerly
    folder = Path(module.__file__ or "").parent
    for name, source in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name)
        # A lazy name equal to a submodule's would become that submodule once it is imported.
        assert not (folder / f"{name}.py").exists() and not (folder / name).is_dir(), name
    assert set(exports) <= set(dir(module))
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018
    # What mypy and editors see (the TYPE_CHECKING imports) is what runs.
    tree = ast.parse(Path(module.__file__ or "").read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    seen = {alias.name: node.module for node in guarded.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert seen == exports
