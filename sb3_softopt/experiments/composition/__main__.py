from sb3_softopt.experiments.composition import main

main()
