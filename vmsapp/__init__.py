"""The application layer: command line, supervisor and composition of the processes."""
