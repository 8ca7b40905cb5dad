"""Suite-wide pytest setup. Fixtures live in tests/fixtures/, one module per concern."""

import sys
from pathlib import Path

import pytest

# Put the checkout first on sys.path, as pytest's `pythonpath = ["."]` would. pytest puts
# tests/ on sys.path (this file's folder), so tests/flowforge/, tests/control_plane/ ... would
# otherwise be imported as namespace packages that shadow the real ones whenever the project
# is installed through setuptools' editable finder (which Python consults after sys.path).
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

# Marked before any is imported, so that fixture modules may import one another in any
# order (a plugin imported by an earlier one would otherwise miss assertion rewriting).
pytest.register_assert_rewrite("fixtures")

# Every module in tests/fixtures/ is a plugin: adding a fixture module needs no edit here.
pytest_plugins = sorted(
    f"fixtures.{module.stem}"
    for module in (Path(__file__).parent / "fixtures").glob("*.py")
    if module.stem != "__init__"
)
