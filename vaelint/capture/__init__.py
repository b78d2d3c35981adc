"""Stage 2, capture: forward plus loss as one torch.fx graph, by the routes in
``routes.py`` (torch.fx first, then recording a concrete run), with the loss's
parameters bound to the forward's outputs (``binding.py``).

Imports: the top-level vocabulary, the front ends, the contracts' call watcher,
the forward's roles (binding by role reads them: facts/roles.py) and the cache's
read log; never a rule, confirm or report.
"""
