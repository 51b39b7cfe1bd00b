"""``python -m backprop.cli ...`` runs the ``backprop`` command."""

from backprop.cli.main import main

if __name__ == "__main__":
    main()
