"""The notebook layer: the ``%%orbit`` magic, prompt templates, and what a notebook shows.

Everything here sits on top of the Python API (:mod:`orbit_nb.api`); nothing
below it imports from here.
"""
