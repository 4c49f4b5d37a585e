"""``python -m sb3_softopt.experiments.finetune``."""

from sb3_softopt.experiments.finetune.cli import main

if __name__ == "__main__":
    main()
