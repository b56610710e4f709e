"""The process designer's studio beyond deploying: test runs of a package's processes with sample data.

A test run plays every path (docs/studio.md, "Test runs"). The package sits above timers, since a test run fires
timers the way a worker would, and below the CLI and web.
"""
