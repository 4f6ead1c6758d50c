"""The application layer: command line, composition root and the wiring of workers, live and detection.

It is the only layer that imports every other one (``dashboard`` for HTTP, ``streams`` for media
stages, ``vms`` for the domain and storage); nothing imports it back. See the README's layout table.
The process supervisor (``vmsapp.supervisor``) belongs here too.
"""
