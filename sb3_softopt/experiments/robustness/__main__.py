from sb3_softopt.experiments.robustness import main

main()
