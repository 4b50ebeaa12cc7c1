"""Loaders: targets that users declare in files, without registering anything.

- :mod:`feint.targets.loaders.yaml`: a YAML declaration naming a model file (or an
  endpoint), its samples and its shape, read into a
  :class:`~feint.targets.loaders.yaml.DeclaredTarget`;
- :mod:`feint.targets.loaders.python_file`: a Python file holding a target class, feint's
  or Counterfit's;
- :mod:`feint.targets.loaders.samples`: the readers of a declaration's samples (``.npz``,
  ``.npy``, CSV, folders of images);
- :mod:`feint.targets.loaders.checks`: the one-line errors they all give.

:func:`feint.targets.get_target` picks the loader by the target spec
(:class:`feint.targets.spec.TargetSpec`).
"""
