"""Sample data for the demo and the tests: the demo baseline (``baseline.yaml``) and raw records
written against it (``events``)."""
