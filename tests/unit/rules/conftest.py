import pytest

from enricher.core.baseline import CompiledBaseline
from tests.unit.rules.scenario import build_baseline


@pytest.fixture(scope="session")
def baseline() -> CompiledBaseline:
    return build_baseline()
