"""systems/baselines"""
