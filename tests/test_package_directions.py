"""Dependencies point one way: what each package must not pull in when imported."""

import subprocess
import sys

import pytest


def modules_loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("connectors_sdk", ("data_plane", "control_plane", "flowforge", "temporalio")),
        ("data_plane.protocol", ("temporalio", "control_plane", "flowforge")),
        (
            "control_plane.app",
            ("temporalio", "data_plane.agent", "data_plane.workflows", "flowforge"),
        ),
    ],
)
def test_package_does_not_import_what_it_must_not(module: str, forbidden: tuple[str, ...]) -> None:
    loaded = modules_loaded_by(module)

    offending = sorted(
        name for name in loaded for bad in forbidden if name == bad or name.startswith(bad + ".")
    )
    assert offending == []
