"""Fixtures of the fleet scenario (the shared ones are in molecule/conftest.py)."""

import pytest

from fleetlib import create_user, fleet_host, signed_in


@pytest.fixture
def visitor(published, pebble_root):
    """A user made on app1 and signed in through the site: the browser's headers."""
    user, password = create_user(fleet_host("app1"))
    return signed_in(published["https"], pebble_root, user, password)
