"""Layers, activations, losses and initialisers."""
