"""The house plan's forbidden arrows, and the one-clock rule, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("connector", "adapters", "webhooks", "sandbox")


def _modules(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_domain_imports_no_framework_and_nothing_of_the_project_but_domain() -> None:
    forbidden = (
        "flask",
        "sqlalchemy",
        "requests",
        "connector.models",
        "connector.services",
        "connector.web",
        "connector.db",
        "connector.clock",
        "adapters",
        "webhooks",
    )
    assert _violations(_modules("connector/domain"), forbidden) == []


def test_nothing_imports_the_entry_points() -> None:
    paths = [p for pkg in PACKAGES for p in _modules(pkg)]
    offenders = [
        v
        for v in _violations(paths, ("connector.web", "connector.cli", "webhooks"))
        if not v.startswith(
            (
                "connector/web",
                "connector/cli.py",
                "webhooks/",
                "connector/wsgi.py",
                "connector/demo.py",
            )
        )
    ]
    assert offenders == []


def test_adapters_know_no_use_cases_and_sandbox_shares_no_code() -> None:
    assert _violations(_modules("adapters"), ("connector.services", "connector.web")) == []
    assert _violations(_modules("sandbox"), ("connector", "adapters", "webhooks")) == []


@pytest.mark.parametrize("call", ["datetime.now", "datetime.utcnow", "date.today", "time.time"])
def test_only_the_clock_reads_the_time(call: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for pkg in PACKAGES
        for path in _modules(pkg)
        if path.name != "clock.py" and f"{call}(" in path.read_text()
    ]
    assert offenders == []
