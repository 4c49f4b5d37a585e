"""sb3_softopt.entropy_ppo"""
