"""crl: Critique Reinforcement Learning for code models."""

__version__ = "0.1.0"
