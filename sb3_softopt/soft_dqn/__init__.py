"""sb3_softopt.soft_dqn"""
