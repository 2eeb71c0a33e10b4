"""Shared fixtures for the AWS-compatibility suites (boto3, the Debian AWS CLI,
raw SigV4 requests and the JS SDK v3) against real cofferd processes.

The process fixtures (DevNode, Cluster, workdir, cluster, devnode) come from
tests/integration/conftest.py; they are loaded from there, not duplicated.
Set COFFER_BUILD to the build directory that holds cofferd/coffer with the
AWS endpoint (e.g. COFFER_BUILD=$PWD/build-aws).
"""
import importlib.util
import os
import shutil
import signal
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)

# Load tests/integration/conftest.py under its own module name: this file is
# itself imported as "conftest", so a plain "import conftest" would find us.
_spec = importlib.util.spec_from_file_location("coffer_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
it = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = it
_spec.loader.exec_module(it)

# Re-exported: fixtures and the report hook for pytest, and the helpers.
# (When tests/integration and tests/aws run in one session, the integration
# tests' "from conftest import Cluster" may resolve to this module, so the
# names must be here too.)
TOP, BUILD, COFFERD, COFFER = it.TOP, it.BUILD, it.COFFERD, it.COFFER
Cli, Cluster, DevNode = it.Cli, it.Cluster, it.DevNode
parse_env_file, pid_alive, pick_base, port_free = (it.parse_env_file, it.pid_alive,
                                                   it.pick_base, it.port_free)
workdir, cluster, devnode = it.workdir, it.cluster, it.devnode
pytest_runtest_makereport = it.pytest_runtest_makereport

from awslib import *  # noqa: E402,F401,F403 - helpers, also via "conftest"
from awslib import boto_client  # noqa: E402


def _require_endpoint(node):
    if "AWS_ENDPOINT_URL" not in node.env:
        pytest.fail(f"{COFFERD}: dev.env has no AWS_ENDPOINT_URL (set COFFER_BUILD to a "
                    "build with the AWS endpoint)")


@pytest.fixture(scope="session")
def dev():
    """One dev node shared by the suites that use unique secret names."""
    root = tempfile.mkdtemp(prefix="coffer-aws-")
    node = DevNode(root)
    try:
        _require_endpoint(node)
        yield node
    finally:
        node.stop(signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sm(dev):
    return boto_client(dev.env)


@pytest.fixture(scope="module")
def fresh_dev():
    """A dev node of the module's own, for tests that look at every secret."""
    root = tempfile.mkdtemp(prefix="coffer-aws-")
    node = DevNode(root)
    try:
        _require_endpoint(node)
        yield node
    finally:
        node.stop(signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


