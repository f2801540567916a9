"""Stand-in for the pip bootstrap script ansible-test downloads from its own CI file server.

ansible-test makes each sanity test's virtual environment without pip and then runs
``python get_pip_<version>.py --disable-pip-version-check pip==<version> --no-setuptools
--no-wheel`` in it, with a script it fetches from a host that only PyPI-reaching machines
cannot reach. This script does the same with what is at hand: Python's own ensurepip, then
pip from PyPI at the version ansible-test pins. scripts/sanity.sh puts it where ansible-test
looks for its cached copy (~/.ansible/test/cache/get_pip_<version>.py) when none is there.
"""

import subprocess
import sys


def main():
    # get-pip.py's own switches: setuptools and wheel are not installed unless named.
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True)
    command = [sys.executable, "-m", "pip", "install", "--upgrade", "--force-reinstall", *args]
    sys.exit(subprocess.run(command, check=False).returncode)


if __name__ == "__main__":
    main()
