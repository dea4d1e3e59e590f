"""Use cases. Plain functions that take the SQLAlchemy session first and own the commit
of their unit of work; HTTP handlers, CLI commands and jobs all call these."""
