"""`python -m agent` is `openfabric serve`."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
