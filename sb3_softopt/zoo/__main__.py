"""``python -m sb3_softopt.zoo``: the ``softopt-zoo`` command."""

from sb3_softopt.zoo.cli import main

if __name__ == "__main__":
    main()
