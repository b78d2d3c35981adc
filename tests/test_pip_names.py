"""A package whose name on PyPI is not its import name is said with the name pip installs
(``import hydra`` is hydra-core's: "Install hydra" sent users to another package; helper h33c,
Grzmro/dreamer-rssm and RasmussenLab/MOVE); one whose names agree is said as before."""

from vaelint.frontends.installadvice import install_advice, pip_hint


def test_hydra_is_said_as_hydra_core():
    assert install_advice("hydra", "ModuleNotFoundError: No module named 'hydra'") == "Install hydra (pip install hydra-core)"


def test_a_submodule_import_names_its_top_packages_pip_name():
    assert pip_hint("sklearn.cluster") == " (pip install scikit-learn)"


def test_a_package_named_alike_gets_no_pip_name():
    assert install_advice("gym", "ModuleNotFoundError: No module named 'gym'") == "Install gym"
    assert pip_hint("einops") == ""
