"""The playground: a local web page where the real library learns, with every δ of the four equations.

``backprop playground`` serves it (:mod:`backprop.cli.playground`); the ``playground``
extra installs the web stack (Starlette and uvicorn). The parts:

* :mod:`~backprop.playground.datasets`: the 2-D datasets (circle, XOR, two gaussians,
  spiral, moons);
* :mod:`~backprop.playground.settings`: the settings a page sends, checked;
* :mod:`~backprop.playground.data`: the rows, their split and preprocessing, the plane's grid;
* :mod:`~backprop.playground.network`: the ``bp.nn.Sequential`` the settings describe;
* :mod:`~backprop.playground.session`: one run in memory (Trainer, GradientMonitor,
  ``bp.trace``, ``bp.save``) and the bounded store of runs;
* :mod:`~backprop.playground.app`: the Starlette app, its JSON API and the static page
  (``static/``: HTML, CSS and JavaScript, no build step, nothing loaded from outside).

Only :mod:`~backprop.playground.app` imports Starlette, so the rest works without the extra.
"""

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    """The Starlette app (see :func:`backprop.playground.app.create_app`); needs the playground extra."""
    from backprop.playground.app import create_app as create

    return create(*args, **kwargs)
