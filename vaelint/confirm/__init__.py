"""Stage 6, confirm: a real forward, loss and backward on the device
(``forward_backward.py``), the simulated GPU (``simdevice.py``; what surrounds its run,
``simcontext.py``), and what differs on a machine with one (``devicechoice.py``).

Imports: capture, facts, contracts, the front ends' source helpers, the
catalogue's note for a rule that fails, the memory available (concurrency.py) and the
top-level vocabulary; never a reporter.
"""
