"""The sandbox stage's fixture: `bin/sandbox up` twice, shared by every test
module here, then `bin/sandbox down` when these tests created the sandbox."""

import pytest

from sandboxlib import ROOT, exists, sandbox


@pytest.fixture(scope="session")
def runs():
    existed = exists()
    first = sandbox("up")
    second = sandbox("up")
    yield existed, first, second
    if not existed:
        down = sandbox("down")
        assert down.returncode == 0, down.stderr
        assert not exists()
        assert not (ROOT / ".sandbox").exists()


