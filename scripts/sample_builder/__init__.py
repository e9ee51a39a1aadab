"""The sample builder behind ``scripts/make_samples.py`` (the thyroid sample patients).

* :mod:`~sample_builder.codes`: code systems and identifiers; :mod:`~sample_builder.patient`:
  the resource builder; :mod:`~sample_builder.blocks`: building blocks shared by scenarios;
* :mod:`~sample_builder.registry`: ``@scenario`` and the ordered list of scenarios;
* :mod:`~sample_builder.scenarios`: the scenarios, one module per subject;
* :mod:`~sample_builder.write`: turns each scenario into its bundle, request and expected files.
"""
