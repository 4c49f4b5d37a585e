"""sb3_softopt.inference"""
