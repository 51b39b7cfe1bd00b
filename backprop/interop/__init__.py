"""Exchange with other frameworks: :mod:`backprop.interop.torch` (PyTorch, both ways).

Each converter asks the layers for their own form (a layer states its ``torch.nn`` modules
beside its maths, :meth:`backprop.nn.Module.to_torch_modules`); the frameworks stay
optional, imported only when a conversion is asked for.
"""
