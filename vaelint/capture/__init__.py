"""Stage 2, capture: forward plus loss as one torch.fx graph, by the routes in
``routes.py`` (torch.fx first, then recording a concrete run), with the loss's
parameters bound to the forward's outputs (``binding.py``).

Imports: the top-level vocabulary (errors, frames, inputs), the front ends, the
contracts' call watcher, and the forward's roles (binding by role reads them:
facts/roles.py); never a rule, confirm or report.
"""
