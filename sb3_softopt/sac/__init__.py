"""sb3_softopt.sac"""
