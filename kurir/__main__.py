import sys

from kurir.cli import main

sys.exit(main())
