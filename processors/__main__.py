"""`python -m processors`: one processor worker, configured from the environment (see cli_cmd)."""

from common.logging import configure
from processors.cli_cmd import run_process

if __name__ == "__main__":
    configure("processor")
    run_process()
