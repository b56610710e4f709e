"""The database and what it holds: configuration, clock, engines, the unit of work, rows, migrations, audit chains."""
