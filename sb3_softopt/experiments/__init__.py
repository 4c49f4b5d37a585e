"""sb3_softopt.experiments"""
