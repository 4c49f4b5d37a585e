"""sb3_softopt.lecture"""
