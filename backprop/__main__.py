"""``python -m backprop ...`` runs the ``backprop`` command (see :mod:`backprop.cli.entry`)."""

from backprop.cli.entry import main

if __name__ == "__main__":
    main()
