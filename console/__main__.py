"""``python -m console``: the same entry point as ``mlops-console``."""

from console.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
