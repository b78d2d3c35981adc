"""The repository's functions that set attributes of what they are handed (a KL-weight schedule,
``set_kl_weight(model, step)``): the step's slice keeps their calls (vaelint/frontends/training/
mutators.py); a function that also trains or saves, or only reads, is not one."""

from __future__ import annotations

import textwrap

from vaelint.frontends.training.mutators import mutating_functions
from vaelint.frontends.training.sites import parse_file


def test_which_functions_set_what_they_are_handed(tmp_path):
    path = tmp_path / "schedules.py"
    path.write_text(
        textwrap.dedent("""
        def set_kl_weight(model, step, target=4.0):
            model.kl_weight = min(1.0, step / 100) * target

        def anneal(args, vae, iteration):
            vae.lamb += 0.1
            setattr(vae, "beta", args.beta)

        def log_weight(model, writer, step):
            writer.add_scalar("beta", model.kl_weight, step)

        def save_every(model, step):
            model.epoch = step
            model.save("ckpt.pt")

        def set_nested(model, value):
            model.loss.cfg.beta = value

        class Trainer:
            def set(self, model):
                model.beta = 2.0
    """)
    )
    found = mutating_functions([parse_file(str(path))])
    assert found == {"set_kl_weight": frozenset({0}), "anneal": frozenset({1}), "set_nested": frozenset({0})}
