import sys

from feint.cli.app import main

sys.exit(main())
